package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Probe timings for tests: a probe every 100ms and a window of the last
// 2 seconds, so that changes show within a few seconds.
var probeArgs = []string{
	"--probe-interval=100ms", "--probe-timeout=400ms", "--budget=200",
	"--window-size=20", "--window-age=2s",
	"--write-interval=500ms", "--heartbeat=5s",
}

// startProbe runs the real edgeplace-probe command for a node, sending its
// probes from source (a loopback address of its own) so that responders can
// stand at a different distance from each simulated node. It returns the
// address serving the probe's metrics.
func (f *fixture) startProbe(node, source string, extra ...string) string {
	f.t.Helper()
	return f.startProbeWith(node, source, append(slices.Clone(probeArgs), extra...)...)
}

// startProbeWith is startProbe with only the flags given (the command's
// own defaults for the rest).
func (f *fixture) startProbeWith(node, source string, flags ...string) string {
	f.t.Helper()
	return f.probeProcess(node, source, flags...).metrics
}

// probeProc is a running probe command: its metrics address, its process
// ID, and kill, which ends it with SIGKILL, as a node that fails does, and
// waits for it.
type probeProc struct {
	metrics string
	pid     int
	kill    func()
}

// probeProcess starts the probe command with the flags given. Unless
// killed, it is stopped with SIGTERM at the end of the test and must exit
// cleanly.
func (f *fixture) probeProcess(node, source string, flags ...string) probeProc {
	f.t.Helper()
	metrics := freeLoopbackAddress(f.t)
	args := append([]string{
		"--kubeconfig=" + f.e.cp.KubeconfigPath(), "--node-name=" + node,
		"--source-ip=" + source, "--metrics-bind-address=" + metrics,
	}, flags...)
	logPath := filepath.Join(f.e.logs, "probe-"+node+".log")
	out, err := os.Create(logPath)
	require.NoError(f.t, err)
	cmd := exec.Command(probeBinary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(f.t, cmd.Start())
	f.t.Logf("probe for %s: log in %s", node, logPath)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var killed bool
	kill := func() {
		killed = true
		cmd.Process.Kill()
		<-exited
	}
	f.t.Cleanup(func() {
		defer out.Close()
		// The probe's object carries no test label; no garbage collector
		// runs here to remove it with the Node.
		defer func() {
			_ = f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(context.Background(), node, metav1.DeleteOptions{})
		}()
		if killed {
			return
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(f.t, err, "the probe exits cleanly on SIGTERM (log in %s)", logPath)
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			f.t.Errorf("the probe for %s did not stop within 10s of SIGTERM", node)
		}
	})
	return probeProc{metrics: metrics, pid: cmd.Process.Pid, kill: kill}
}

func freeLoopbackAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// echo starts a responder on loopback.
func (f *fixture) echo(network string, delay time.Duration, bySource map[string]time.Duration) *responder.Listener {
	f.t.Helper()
	o := responder.Options{Network: network, Address: "127.0.0.1:0", Delay: delay, PerSourceRate: 1000, PerSourceBurst: 100}
	for src, d := range bySource {
		if o.DelayBySource == nil {
			o.DelayBySource = map[netip.Addr]time.Duration{}
		}
		o.DelayBySource[netip.MustParseAddr(src)] = d
	}
	l, err := responder.Listen(o)
	require.NoError(f.t, err)
	f.t.Cleanup(func() { l.Close() })
	return l
}

// probedLandmark creates a Landmark that probes measure.
func (f *fixture) probedLandmark(name string, protocol v1alpha1.LandmarkProtocol, address string) {
	f.t.Helper()
	_, err := f.e.edge.EdgeplaceV1alpha1().Landmarks().Create(f.ctx, &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: f.testLabel()},
		Spec:       v1alpha1.LandmarkSpec{Addresses: []string{address}, Protocol: protocol},
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
}

// waitEntry polls the node's NodeNetwork until ok accepts its entry for the
// landmark (nil when there is none), and returns the entry.
func (f *fixture) waitEntry(node, landmark, what string, ok func(*v1alpha1.LandmarkRTT) bool) *v1alpha1.LandmarkRTT {
	f.t.Helper()
	var last *v1alpha1.LandmarkRTT
	err := wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		nn, err := f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last = nil
		for i := range nn.Status.Landmarks {
			if nn.Status.Landmarks[i].Landmark == landmark {
				last = &nn.Status.Landmarks[i]
			}
		}
		return ok(last), nil
	})
	require.NoError(f.t, err, "%s: %s to %s; last entry %+v", node, what, landmark, last)
	return last
}

// near accepts an entry whose p50 is within max(2ms, 10%) of want.
func near(want time.Duration) func(*v1alpha1.LandmarkRTT) bool {
	return func(e *v1alpha1.LandmarkRTT) bool {
		if e == nil {
			return false
		}
		got := time.Duration(e.RTTP50Microseconds) * time.Microsecond
		return (got - want).Abs() <= max(2*time.Millisecond, want/10)
	}
}

// TestProbeMeasuresRealSockets runs the real probe command for two nodes
// against responders on loopback that stand 5, 20 and 80ms away, over
// tcp-echo and udp-echo.
func TestProbeMeasuresRealSockets(t *testing.T) {
	e := sharedEnv(t)
	f := newFixture(t, e)
	lm := func(ms int) string { return fmt.Sprintf("%s-%dms", f.prefix, ms) }
	l5 := f.echo("tcp", 5*time.Millisecond, nil)
	l20 := f.echo("udp", 20*time.Millisecond, nil)
	l80 := f.echo("tcp", 80*time.Millisecond, nil)
	f.probedLandmark(lm(5), v1alpha1.ProtocolTCPEcho, l5.Addr().String())
	f.probedLandmark(lm(20), v1alpha1.ProtocolUDPEcho, l20.Addr().String())
	f.probedLandmark(lm(80), v1alpha1.ProtocolTCPEcho, l80.Addr().String())
	nodes := []string{f.prefix + "-a", f.prefix + "-b"}
	var metrics []string
	for i, n := range nodes {
		node := f.node(n, 4, nil)
		metrics = append(metrics, f.startProbe(node.Name, fmt.Sprintf("127.0.0.%d", 11+i)))
	}

	for _, n := range nodes {
		for _, ms := range []int{5, 20, 80} {
			entry := f.waitEntry(n, lm(ms), fmt.Sprintf("p50 within max(2ms, 10%%) of %dms", ms), near(time.Duration(ms)*time.Millisecond))
			t.Logf("%s -> %s: p50 %dus p90 %dus jitter %dus loss %dppm samples %d",
				n, lm(ms), entry.RTTP50Microseconds, entry.RTTP90Microseconds, entry.JitterMicroseconds, entry.LossPartsPerMillion, entry.Samples)
			assert.Zero(t, entry.LossPartsPerMillion)
		}
		nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, n, metav1.GetOptions{})
		require.NoError(t, err)
		require.Len(t, nn.OwnerReferences, 1, "the probe creates its NodeNetwork owned by the Node")
		assert.Equal(t, "Node", nn.OwnerReferences[0].Kind)
		assert.Equal(t, n, nn.OwnerReferences[0].Name)
		assert.Equal(t, v1alpha1.ScopeNode, nn.Spec.Scope)
	}

	// A changed distance is followed within a few intervals.
	l20.SetDelay(40 * time.Millisecond)
	for _, n := range nodes {
		f.waitEntry(n, lm(20), "follows the change to 40ms", near(40*time.Millisecond))
	}

	// A dead landmark shows loss, then no entry at all: the last good value
	// is not kept.
	killed := time.Now()
	require.NoError(t, l80.Close())
	for _, n := range nodes {
		sawLoss := false
		f.waitEntry(n, lm(80), "entry gone after the responder died", func(e *v1alpha1.LandmarkRTT) bool {
			if e != nil && e.ObservedTime.After(killed.Add(time.Second)) {
				// Written after the death was noticed: must not look healthy.
				assert.Positive(t, e.LossPartsPerMillion, "%s: an entry written after the responder died", n)
				sawLoss = sawLoss || e.LossPartsPerMillion > 0
			}
			return e == nil
		})
		t.Logf("%s: %s removed (loss seen on the way: %v)", n, lm(80), sawLoss)
		f.waitEntry(n, lm(5), "still measured", near(5*time.Millisecond))
	}

	// The metrics say the same.
	body := scrape(t, metrics[0])
	assert.Regexp(t, fmt.Sprintf(`edgeplace_probe_probes_total\{landmark="%s"\} [1-9]`, lm(5)), body)
	assert.Regexp(t, `edgeplace_probe_writes_total\{reason="first"\} 1`, body)
	assert.Regexp(t, `edgeplace_probe_write_skips_total\{reason="(unchanged|rate-limited)"\} [1-9]`, body)
}

func scrape(t *testing.T, address string) string {
	t.Helper()
	lines, err := metricLines(address)
	require.NoError(t, err)
	var b strings.Builder
	for _, line := range lines {
		if strings.HasPrefix(line, "edgeplace_probe_") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// metricLines is what a probe's /metrics serves, line by line.
func metricLines(address string) ([]string, error) {
	resp, err := http.Get("http://" + address + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var lines []string
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return lines, s.Err()
}

// TestProbeFullLoop: probes publish, and the real scheduler places pods on
// the node whose measured RTT is lowest. No NodeNetwork here is written by
// the test.
func TestProbeFullLoop(t *testing.T) {
	e := sharedEnv(t)
	f := newFixture(t, e)
	sources := map[string]string{"far": "127.0.0.21", "near": "127.0.0.22", "middle": "127.0.0.23"}
	l := f.echo("tcp", 60*time.Millisecond, map[string]time.Duration{
		sources["near"]: 8 * time.Millisecond, sources["middle"]: 30 * time.Millisecond,
	})
	lm := f.prefix + "-users"
	f.probedLandmark(lm, v1alpha1.ProtocolTCPEcho, l.Addr().String())
	for _, name := range []string{"far", "near", "middle"} {
		node := f.node(f.prefix+"-"+name, 4, nil)
		f.startProbe(node.Name, sources[name])
	}
	want := f.prefix + "-near"

	// With an SLO only the near node qualifies; the pod waits until its
	// measurements arrive and is then placed there.
	f.pod("slo", demand(lm, "20ms"), 100)
	assert.Equal(t, want, f.waitBound("slo", waitTimeout))

	// Without an SLO every node qualifies once measured; the lowest RTT wins.
	for _, name := range []string{"far", "middle"} {
		f.waitEntry(f.prefix+"-"+name, lm, "measured", func(e *v1alpha1.LandmarkRTT) bool { return e != nil })
	}
	f.pod("no-slo", demand(lm, ""), 100)
	assert.Equal(t, want, f.waitBound("no-slo", waitTimeout))
}

// TestProbeSiteMode: the probes of a site elect one writer, which publishes
// the site's NodeNetwork; the nodes have no objects of their own.
func TestProbeSiteMode(t *testing.T) {
	e := sharedEnv(t)
	f := newFixture(t, e)
	l := f.echo("tcp", 10*time.Millisecond, nil)
	lm := f.prefix + "-users"
	f.probedLandmark(lm, v1alpha1.ProtocolTCPEcho, l.Addr().String())
	site := f.prefix + "-site"
	f.siteNamespace()
	var nodes []string
	for i := range 2 {
		n := f.node(fmt.Sprintf("%s-%d", f.prefix, i), 4, map[string]string{v1alpha1.SiteLabel: site})
		nodes = append(nodes, n.Name)
		f.startProbe(n.Name, fmt.Sprintf("127.0.0.%d", 31+i), "--site-mode", "--namespace=edgeplace-system")
	}
	object := "site-" + site
	t.Cleanup(func() {
		_ = e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(context.Background(), object, metav1.DeleteOptions{})
	})
	f.waitEntry(object, lm, "the site object carries the measurement", near(10*time.Millisecond))
	nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, object, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site}, nn.Spec)

	lease, err := e.kube.CoordinationV1().Leases("edgeplace-system").Get(f.ctx, "edgeplace-probe-"+object, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, lease.Spec.HolderIdentity)
	assert.Contains(t, nodes, *lease.Spec.HolderIdentity)
	for _, n := range nodes {
		_, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, n, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%s writes no per-node object in site mode", n)
	}
}
