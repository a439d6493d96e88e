package integration

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// (a) A pod serving landmark L goes to the node with the lowest measured
// RTT to L among 60 nodes.
func TestPlacesOnLowestRTT(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-a")
	rng := rand.New(rand.NewPCG(7, 7))
	rtts := rng.Perm(60) // distinct: 5ms + i*700us
	best, bestRTT := "", time.Duration(1<<62)
	for i := range 60 {
		name := fmt.Sprintf("a-node-%02d", i)
		n := f.node(name, 8, nil)
		d := 5*time.Millisecond + time.Duration(rtts[i])*700*time.Microsecond
		f.publish(n, rtt{landmark: "lm-a", p90: d})
		if d < bestRTT {
			best, bestRTT = name, d
		}
	}
	f.syncMeasurements()
	f.pod("web", demand("lm-a", ""), 0)
	assert.Equal(t, best, f.waitBound("web", waitTimeout))
}

// (a') RTTs 1-3 ms apart, nodes at different utilisation, pods with
// requests: each pod goes to the lowest-RTT node that still fits it, although
// emptier nodes further away score higher with the stock plugins.
func TestLowestRTTThatFitsWins(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-fit")
	rng := rand.New(rand.NewPCG(3, 9))
	type nodeState struct {
		name      string
		rtt       time.Duration
		freeMilli int64
	}
	var nodes []*nodeState
	d := 10 * time.Millisecond
	for i := range 50 {
		d += time.Duration(1+rng.IntN(3)) * time.Millisecond
		n := &nodeState{name: fmt.Sprintf("fit-node-%02d", i), rtt: d, freeMilli: 4000}
		node := f.node(n.name, 4, nil)
		f.publish(node, rtt{landmark: "lm-fit", p90: d})
		// The three nearest nodes are busy (one full, two nearly so); the
		// rest carry a random load that leaves room for a 1-CPU pod.
		used := map[int]int64{0: 4000, 1: 3000, 2: 2500}[i]
		if i > 2 {
			used = int64(rng.IntN(3)) * 1000
		}
		if used > 0 {
			busy := newPod(f.ns, "load-"+n.name, nil, used)
			busy.Spec.NodeName = n.name
			_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, busy, metav1.CreateOptions{})
			require.NoError(t, err)
			n.freeMilli -= used
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].rtt < nodes[j].rtt })
	f.syncMeasurements()

	for i := range 4 {
		name := fmt.Sprintf("app-%d", i)
		f.pod(name, demand("lm-fit", ""), 1000)
		var want *nodeState
		for _, n := range nodes {
			if n.freeMilli >= 1000 {
				want = n
				break
			}
		}
		got := f.waitBound(name, waitTimeout)
		require.Equal(t, want.name, got, "pod %s: the nearest node with room is %s (%s)", name, want.name, want.rtt)
		want.freeMilli -= 1000
	}
}

// (b) A pod whose SLO no node meets stays Pending with a message naming the
// landmark, the SLO and the best RTT; (c) when a NodeNetwork update makes a
// node meet it, the same pod is bound within 10 s.
func TestSLOUnmetThenMet(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("zhejiang-telecom")
	var nodes []*v1.Node
	for i := range 10 {
		n := f.node(fmt.Sprintf("edge-hz-%d", i), 8, nil)
		f.publish(n, rtt{landmark: "zhejiang-telecom", p90: time.Duration(41+i) * time.Millisecond})
		nodes = append(nodes, n)
	}
	created := f.pod("ingest", demand("zhejiang-telecom", "25ms"), 0)

	msg := f.waitUnschedulable("ingest")
	assert.Contains(t, msg, "no node within 25ms p90 of zhejiang-telecom; best is node edge-hz-0 at 41ms")

	f.publish(nodes[7], rtt{landmark: "zhejiang-telecom", p90: 18 * time.Millisecond})
	updated := time.Now()
	assert.Equal(t, "edge-hz-7", f.waitBound("ingest", 10*time.Second))
	t.Logf("bound %s after the measurement update", time.Since(updated).Round(time.Millisecond))
	got, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, "ingest", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, created.UID, got.UID, "the pod was not recreated")
}

// (d) A pod for another scheduler is never bound by edgeplace.
func TestIgnoresOtherSchedulersPods(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-d")
	n := f.node("d-node", 8, nil)
	f.publish(n, rtt{landmark: "lm-d", p90: 3 * time.Millisecond})

	for _, name := range []string{"default-scheduler", "someone-else"} {
		foreign := newPod(f.ns, "foreign-"+name, demand("lm-d", ""), 0)
		foreign.Spec.SchedulerName = name
		_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, foreign, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	f.syncMeasurements()
	// A pod created afterwards for edgeplace: once it is bound, the scheduler
	// has seen the earlier pods too.
	f.pod("mine", demand("lm-d", ""), 0)
	assert.Equal(t, "d-node", f.waitBound("mine", waitTimeout))

	for _, name := range []string{"default-scheduler", "someone-else"} {
		p, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, "foreign-"+name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Empty(t, p.Spec.NodeName, "pod for %s must not be bound", name)
		assert.Empty(t, p.Status.Conditions, "edgeplace must not touch pods of %s", name)
	}
}

// (e) Malformed annotations give the pod a clear reason; other pods keep
// being scheduled.
func TestMalformedAnnotations(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-e")
	n := f.node("e-node", 8, nil)
	f.publish(n, rtt{landmark: "lm-e", p90: 3 * time.Millisecond})

	bad := map[string]map[string]string{
		"bad-weight":   {"edgeplace.io/demand": "lm-e:abc"},
		"bad-slo":      {"edgeplace.io/demand": "lm-e", "edgeplace.io/max-rtt": "25"},
		"nan-slo":      {"edgeplace.io/demand": "lm-e", "edgeplace.io/max-rtt": "NaN"},
		"unknown-lm":   {"edgeplace.io/demand": "no-such-landmark"},
		"slo-only":     {"edgeplace.io/max-rtt": "10ms"},
		"giant-demand": {"edgeplace.io/demand": strings.Repeat("x", 5000)},
	}
	want := map[string]string{
		"bad-weight":   `annotation edgeplace.io/demand="lm-e:abc": weight "abc" of landmark "lm-e" must be a whole number`,
		"bad-slo":      `annotation edgeplace.io/max-rtt="25": must be a duration with a unit, such as "25ms"`,
		"nan-slo":      `annotation edgeplace.io/max-rtt="NaN": must be a duration`,
		"unknown-lm":   `landmark "no-such-landmark" named in edgeplace.io/demand does not exist`,
		"slo-only":     `annotation edgeplace.io/max-rtt="10ms": needs edgeplace.io/demand`,
		"giant-demand": `is not a valid object name`,
	}
	f.syncMeasurements()
	for name, annotations := range bad {
		f.pod(name, annotations, 0)
	}
	f.pod("good", demand("lm-e", "10ms"), 0)
	assert.Equal(t, "e-node", f.waitBound("good", waitTimeout))
	for name := range bad {
		msg := f.waitUnschedulable(name)
		assert.Contains(t, msg, want[name], name)
		assert.Less(t, len(msg), 1000, "%s: the reason must stay readable", name)
	}
	f.pod("good-after", demand("lm-e", ""), 0)
	assert.Equal(t, "e-node", f.waitBound("good-after", waitTimeout))
}

// (f) A measurement older than the TTL (5m in the shipped configuration) is
// treated as missing, not as fresh.
func TestStaleMeasurementIsMissing(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-f")
	stale := f.node("f-stale", 8, nil)
	fresh := f.node("f-fresh", 8, nil)
	f.publish(stale, rtt{landmark: "lm-f", p90: 1 * time.Millisecond, observed: time.Now().Add(-time.Hour)})
	f.publish(fresh, rtt{landmark: "lm-f", p90: 20 * time.Millisecond})
	f.syncMeasurements()

	f.pod("no-slo", demand("lm-f", ""), 0)
	assert.Equal(t, "f-fresh", f.waitBound("no-slo", waitTimeout), "the stale 1ms must not attract the pod")

	f.pod("slo", demand("lm-f", "10ms"), 0)
	msg := f.waitUnschedulable("slo")
	assert.Contains(t, msg, "no node within 10ms p90 of lm-f")
	assert.NotContains(t, msg, "f-stale")

	f.pod("slo-loose", demand("lm-f", "25ms"), 0)
	assert.Equal(t, "f-fresh", f.waitBound("slo-loose", waitTimeout))
}

// Measurements published once per site serve every node of the site; a
// node's own NodeNetwork, when it has one, takes precedence.
func TestSiteScopedMeasurements(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-site")
	api := f.e.edge.EdgeplaceV1alpha1().NodeNetworks()
	for site, d := range map[string]time.Duration{"site-near": 6 * time.Millisecond, "site-far": 30 * time.Millisecond} {
		for i := range 3 {
			f.node(fmt.Sprintf("%s-%d", site, i), 8, map[string]string{v1alpha1.SiteLabel: site})
		}
		nn, err := api.Create(f.ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "site." + site, Labels: f.testLabel()},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		nn.Status.Landmarks = []v1alpha1.LandmarkRTT{{
			Landmark: "lm-site", RTTP50Microseconds: d.Microseconds(), RTTP90Microseconds: d.Microseconds(),
			Samples: 30, ObservedTime: metav1.Now(),
		}}
		_, err = api.UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	f.syncMeasurements()

	f.pod("site-slo", demand("lm-site", "10ms"), 0)
	assert.Contains(t, f.waitBound("site-slo", waitTimeout), "site-near-", "only the near site's nodes meet 10ms")

	// One node of the far site measures on its own and is the nearest of all.
	f.publish(getNode(t, f, "site-far-2"), rtt{landmark: "lm-site", p90: 2 * time.Millisecond})
	f.syncMeasurements()
	f.pod("own-wins", demand("lm-site", "10ms"), 0)
	assert.Equal(t, "site-far-2", f.waitBound("own-wins", waitTimeout))
}

func getNode(t *testing.T, f *fixture, name string) *v1.Node {
	n, err := f.e.kube.CoreV1().Nodes().Get(f.ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return n
}

// A carrier constraint holds even when a node on another carrier is nearer.
func TestCarrierConstraint(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-carrier")
	near := f.node("c-unicom", 8, map[string]string{"topology.kubernetes.io/region": "cn-hangzhou-unicom"})
	far := f.node("c-telecom", 8, map[string]string{"topology.kubernetes.io/region": "cn-shanghai-telecom"})
	f.publish(near, rtt{landmark: "lm-carrier", p90: 2 * time.Millisecond})
	f.publish(far, rtt{landmark: "lm-carrier", p90: 9 * time.Millisecond})
	f.syncMeasurements()

	f.pod("free", demand("lm-carrier", ""), 0)
	assert.Equal(t, "c-unicom", f.waitBound("free", waitTimeout))

	annotations := demand("lm-carrier", "")
	annotations["edgeplace.io/carriers"] = "telecom"
	f.pod("telecom-only", annotations, 0)
	assert.Equal(t, "c-telecom", f.waitBound("telecom-only", waitTimeout))

	annotations = demand("lm-carrier", "")
	annotations["edgeplace.io/carriers"] = "cmcc"
	f.pod("cmcc-only", annotations, 0)
	msg := f.waitUnschedulable("cmcc-only")
	assert.Contains(t, msg, "node(s) are not on an allowed carrier (edgeplace.io/carriers)")
}
