package integration

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// apiCounter is a reverse proxy in front of the API server that counts the
// requests passing through it, by verb and resource: the API load of the
// processes that reach the API server through it, as the API server sees
// it.
type apiCounter struct {
	mu    sync.Mutex
	n     map[string]int // "GET leases", "UPDATE leases", "PATCH nodenetworks/status", "WATCH landmarks", ...
	reads map[string]int // GETs of one NodeNetwork, by its name
	srv   *httptest.Server
}

func newAPICounter(tb testing.TB, cfg *rest.Config) *apiCounter {
	tb.Helper()
	transport, err := rest.TransportFor(cfg)
	require.NoError(tb, err)
	target, err := url.Parse(cfg.Host)
	require.NoError(tb, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	proxy.FlushInterval = -1 // watches stream
	c := &apiCounter{n: map[string]int{}, reads: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.count(r)
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(c.srv.Close)
	return c
}

// count files a request under its verb, as the API server's audit names
// them, and its resource (with subresource).
func (c *apiCounter) count(r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:] // api/v1/...
	case len(parts) >= 4 && parts[0] == "apis":
		parts = parts[3:] // apis/group/version/...
	default:
		return // discovery and the like
	}
	if len(parts) > 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	resource := parts[0]
	named := len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	verb := r.Method
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		verb = "WATCH"
	case r.Method == http.MethodGet && !named:
		verb = "LIST"
	case r.Method == http.MethodPut:
		verb = "UPDATE"
	case r.Method == http.MethodPost:
		verb = "CREATE"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[verb+" "+resource]++
	if verb == http.MethodGet && resource == "nodenetworks" {
		c.reads[parts[1]]++
	}
}

// objectReads is how many GETs each NodeNetwork has had.
func (c *apiCounter) objectReads() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.reads)
}

func (c *apiCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// kubeconfig writes a kubeconfig that reaches the API server through the
// counter (plain HTTP to it; it holds the credentials).
func (c *apiCounter) kubeconfig(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "counted.kubeconfig")
	require.NoError(tb, os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: counted
  cluster:
    server: %s
contexts:
- name: counted
  context:
    cluster: counted
    user: counted
users:
- name: counted
  user: {}
current-context: counted
`, c.srv.URL)), 0o600))
	return path
}

// siteAPIRates is the API calls per second of one site in site mode, by the
// load model (bench/README, "Load model"), from the probes' flags:
//   - the leader renews the site Lease, and the standby the standby Lease
//     (standbyLeaseFactor times as long), every retry period (2/15 of the
//     Lease), one write each;
//   - the standby polls the site Lease, and each follower the standby
//     Lease, once per retry period of that Lease jittered by up to 120%
//     (wait.Jitter(retry, 1.2): 1.6 retry periods on average), one read
//     each;
//   - the standby reads the site object once per probe interval, and each
//     follower once per its own, slowdown times as long, to compare;
//   - the leader writes the site object at least once per heartbeat and at
//     most once per write interval.
type siteAPIRates struct {
	leaseWrites, leaseReads, objectReads float64
	objectWritesMin, objectWritesMax     float64
}

func siteAPILoad(probes int, interval, lease time.Duration, slowdown int, writeInterval, heartbeat time.Duration) siteAPIRates {
	const standbyLeaseFactor = 4 // cmd/edgeplace-probe/site.go
	retry := (lease * 2 / 15).Seconds()
	poll := 1.6 * retry
	followers := float64(probes - 2)
	return siteAPIRates{
		leaseWrites:     1/retry + 1/(standbyLeaseFactor*retry),
		leaseReads:      1/poll + followers/(standbyLeaseFactor*poll),
		objectReads:     1/interval.Seconds() + followers/(interval.Seconds()*float64(slowdown)),
		objectWritesMin: 1 / heartbeat.Seconds(),
		objectWritesMax: 1 / writeInterval.Seconds(),
	}
}

// BenchmarkProbeAPILoad runs the real probes of 1 and of 4 sites of 5
// nodes each in site mode (400 ms probe interval, 3 s Leases, a follower
// slowdown of 20, 500 ms write interval, 5 s heartbeat) with every request
// they make counted on its way to the API server, over a minute once every
// site has a leader and a standby (15 s, and one site only, with -short),
// and reports each kind of call per second beside the load model's figure
// for the same flags: the sites' calls should add up. It then prints the model's figures at the defaults for
// 100,000 nodes in 5,000 sites of 20, which bench/README quotes.
func BenchmarkProbeAPILoad(b *testing.B) {
	for _, sites := range []int{1, 4} {
		b.Run(fmt.Sprintf("sites=%d", sites), func(b *testing.B) {
			if testing.Short() && sites > 1 {
				b.Skip("-short: one site only")
			}
			benchmarkProbeAPILoad(b, sites)
		})
	}
	at := siteAPILoad(20, 5*time.Second, 15*time.Second, 30, 30*time.Second, 2*time.Minute)
	const sites = 5000
	fmt.Printf("api load model at the defaults, 100,000 nodes in %d sites of 20: Lease writes %.0f/s, Lease reads %.0f/s, site object reads %.0f/s, site object writes %.0f..%.0f/s\n",
		sites, sites*at.leaseWrites, sites*at.leaseReads, sites*at.objectReads, sites*at.objectWritesMin, sites*at.objectWritesMax)
}

func benchmarkProbeAPILoad(b *testing.B, sites int) {
	span := time.Minute
	if testing.Short() {
		span = 15 * time.Second
	}
	// A 400 ms interval, not the other tests' 100 ms: at 100 ms the
	// standby's reads of the site object alone (10/s) would be over the
	// client's 5 requests/s, which then sets the rate instead of the model.
	const (
		probes   = 5 // a site
		interval = 400 * time.Millisecond
		lease    = 3 * time.Second
		slowdown = 20
	)
	e, err := startEnv(b.Context(), controlplaneOptions())
	require.NoError(b, err)
	b.Cleanup(e.stop)
	f := newFixture(b, e)
	counter := newAPICounter(b, e.cp.Config())
	kubeconfig := counter.kubeconfig(b)
	echo := f.echo("udp", 10*time.Millisecond, nil)
	lm := f.prefix + "-users"
	f.probedLandmark(lm, v1alpha1.ProtocolUDPEcho, echo.Addr().String())
	ns := f.siteNamespace()
	type siteProbes struct {
		procs                             []probeProc
		object, leaderLease, standbyLease string
	}
	var all []siteProbes
	for j := range sites {
		site := fmt.Sprintf("%s-site%d", f.prefix, j)
		object := "site-" + site
		sp := siteProbes{object: object, leaderLease: "edgeplace-probe-" + object, standbyLease: "edgeplace-probe-" + object + "-standby"}
		for i := range probes {
			n := f.node(fmt.Sprintf("%s-%d-%d", f.prefix, j, i), 4, map[string]string{v1alpha1.SiteLabel: site})
			sp.procs = append(sp.procs, f.probeProcess(n.Name, fmt.Sprintf("127.0.0.%d", 41+j*probes+i), append(slices.Clone(probeArgs),
				"--kubeconfig="+kubeconfig, "--probe-interval="+interval.String(), "--site-mode", "--namespace="+ns,
				fmt.Sprintf("--follower-slowdown=%d", slowdown), "--site-lease-duration="+lease.String())...))
		}
		all = append(all, sp)
	}
	site := siteAPILoad(probes, interval, lease, slowdown, flagDuration(b, probeArgs, "write-interval"), flagDuration(b, probeArgs, "heartbeat"))
	model := siteAPIRates{
		leaseWrites: float64(sites) * site.leaseWrites, leaseReads: float64(sites) * site.leaseReads, objectReads: float64(sites) * site.objectReads,
		objectWritesMin: float64(sites) * site.objectWritesMin, objectWritesMax: float64(sites) * site.objectWritesMax,
	}

	var rates map[string]float64
	for b.Loop() {
		// Every probe has a role, so its start-up reads are behind the
		// measured span.
		var roles map[string]int
		require.NoError(b, wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			for _, sp := range all {
				roles = map[string]int{}
				for _, p := range sp.procs {
					roles[siteRole(p.metrics)]++
				}
				l, s := f.holder(ns, sp.leaderLease), f.holder(ns, sp.standbyLease)
				if l == "" || s == "" || l == s || roles["leader"] != 1 || roles["standby"] != 1 || roles["follower"] != probes-2 {
					return false, nil
				}
			}
			return true, nil
		}), "a leader, a standby and followers in every site; one has %v", roles)
		// And past the start-up: every site object is written, and every
		// site's standby compares with it at the full rate (every probe starts as a follower,
		// whose first comparison waits a follower's interval).
		var last map[string]int
		require.NoError(b, wait.PollUntilContextTimeout(f.ctx, time.Second, time.Minute, false, func(context.Context) (bool, error) {
			reads := counter.objectReads()
			settled := last != nil && counter.snapshot()["CREATE nodenetworks"] >= sites
			for _, sp := range all {
				settled = settled && float64(reads[sp.object]-last[sp.object]) >= 0.8*time.Second.Seconds()/interval.Seconds()
			}
			last = reads
			return settled, nil
		}), "the standbys comparing with their site objects")
		before := counter.snapshot()
		start := time.Now()
		select {
		case <-time.After(span):
		case <-f.ctx.Done():
			b.Fatal(f.ctx.Err())
		}
		after := counter.snapshot()
		elapsed := time.Since(start).Seconds()
		rates = map[string]float64{}
		for k, v := range after {
			if d := v - before[k]; d > 0 {
				rates[k] = float64(d) / elapsed
			}
		}
	}
	var keys []string
	for k := range rates {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.Logf("%-32s %.3f/s", k, rates[k])
	}
	leaseWrites := rates["UPDATE leases"] + rates["CREATE leases"]
	leaseReads := rates["GET leases"]
	objectReads := rates["GET nodenetworks"]
	objectWrites := rates["PATCH nodenetworks/status"] + rates["PATCH nodenetworks"] + rates["CREATE nodenetworks"]
	b.ReportMetric(leaseWrites, "lease-writes/s")
	b.ReportMetric(leaseReads, "lease-reads/s")
	b.ReportMetric(objectReads, "object-reads/s")
	b.ReportMetric(objectWrites, "object-writes/s")
	fmt.Printf("api load: %d site(s) of %d probes over %s: Lease writes %.3f/s (model %.3f, %.2fx), Lease reads %.3f/s (model %.3f, %.2fx), site object reads %.3f/s (model %.3f, %.2fx), site object writes %.3f/s (model %.2f..%.2f)\n",
		sites, probes, span, leaseWrites, model.leaseWrites, leaseWrites/model.leaseWrites,
		leaseReads, model.leaseReads, leaseReads/model.leaseReads,
		objectReads, model.objectReads, objectReads/model.objectReads,
		objectWrites, model.objectWritesMin, model.objectWritesMax)
	// The model holds what it is for: a load that differs from it by more
	// than the reads' lag (each loop waits its period after its read) is a
	// model or a probe that is wrong.
	for _, c := range []struct {
		what           string
		measured, want float64
	}{{"Lease writes", leaseWrites, model.leaseWrites}, {"Lease reads", leaseReads, model.leaseReads}, {"site object reads", objectReads, model.objectReads}} {
		if r := c.measured / c.want; r < 0.8 || r > 1.1 {
			b.Errorf("%s: %.3f/s measured, %.3f/s by the model (%.2fx)", c.what, c.measured, c.want, r)
		}
	}
	if objectWrites < 0.8*model.objectWritesMin || objectWrites > 1.1*model.objectWritesMax {
		b.Errorf("site object writes: %.3f/s measured, %.2f..%.2f/s by the model", objectWrites, model.objectWritesMin, model.objectWritesMax)
	}
}

// siteRole is the role a probe's site_role metric marks ("": none yet).
func siteRole(metrics string) string {
	lines, err := metricLines(metrics)
	if err != nil {
		return ""
	}
	for _, line := range lines {
		if rest, ok := strings.CutPrefix(line, `edgeplace_probe_site_role{role="`); ok {
			if role, value, ok := strings.Cut(rest, `"} `); ok && strings.TrimSpace(value) == "1" {
				return role
			}
		}
	}
	return ""
}

// flagDuration reads --name=value from flags.
func flagDuration(tb testing.TB, flags []string, name string) time.Duration {
	tb.Helper()
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			d, err := time.ParseDuration(v)
			require.NoError(tb, err, f)
			return d
		}
	}
	tb.Fatalf("no --%s in %v", name, flags)
	return 0
}
