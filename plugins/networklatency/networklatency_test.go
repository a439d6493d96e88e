package networklatency

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fakeHandle records activations and serves a snapshot when given one; the
// plugin uses nothing else of the handle outside EventsToRegister and
// PostFilter.
type fakeHandle struct {
	fwk.Handle
	mu        sync.Mutex
	activated []string
	events    *events.FakeRecorder
	// snapshot is the scheduler's view of nodes and pods; nil: none, and
	// the plugin does not narrow the candidates.
	snapshot fwk.SharedLister
}

func (h *fakeHandle) SnapshotSharedLister() fwk.SharedLister {
	if h.snapshot == nil {
		return nil
	}
	return h.snapshot
}

func (h *fakeHandle) EventRecorder() events.EventRecorderLogger { return h.events }

func (h *fakeHandle) KubeConfig() *rest.Config { return nil }

func (h *fakeHandle) SharedInformerFactory() informers.SharedInformerFactory { return nil }

func (h *fakeHandle) Activate(_ klog.Logger, pods map[string]*v1.Pod) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range pods {
		h.activated = append(h.activated, p.Name)
	}
}

// cluster is a network map with one landmark per entry of rtt; rtt maps node
// -> landmark -> p90 microseconds (p50 is 80% of it).
func cluster(t *testing.T, rtt map[string]map[string]int64, stale ...string) *netmap.Map {
	t.Helper()
	m := netmap.New()
	isStale := map[string]bool{}
	for _, n := range stale {
		isStale[n] = true
	}
	for node, byLandmark := range rtt {
		m.SetNode(node, nil)
		nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: node}}
		at := now.Add(-time.Minute)
		if isStale[node] {
			at = now.Add(-time.Hour)
		}
		for lm, us := range byLandmark {
			m.SetLandmark(lm)
			nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: lm, RTTP50Microseconds: us * 8 / 10, RTTP90Microseconds: us,
				Samples: 20, ObservedTime: metav1.NewTime(at),
			})
		}
		m.SetNodeNetwork(nn)
	}
	m.SetState(netmap.Ready)
	m.Flush()
	return m
}

func newPlugin(t *testing.T, m *netmap.Map) (*NetworkLatency, *fakeHandle) {
	t.Helper()
	args, err := argscheme.NetworkLatencyArgs(nil)
	require.NoError(t, err)
	h := &fakeHandle{events: events.NewFakeRecorder(100)}
	p, err := New(context.Background(), args, h, feed.Fixed(m))
	require.NoError(t, err)
	pl := p.(*NetworkLatency)
	pl.now = func() time.Time { return now }
	return pl, h
}

func testPod(name string, annotations map[string]string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", UID: types.UID(name), Annotations: annotations,
	}}
}

func nodeInfo(name string) fwk.NodeInfo {
	ni := framework.NewNodeInfo()
	ni.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return ni
}

// scoreAll runs PreFilter, Filter, PreScore, Score and NormalizeScore like
// the framework does and returns the final scores of the feasible nodes.
func scoreAll(t *testing.T, pl *NetworkLatency, pod *v1.Pod, nodes []string) (map[string]int64, *fwk.Status) {
	t.Helper()
	ctx := context.Background()
	cs := framework.NewCycleState()
	infos := make([]fwk.NodeInfo, len(nodes))
	for i, n := range nodes {
		infos[i] = nodeInfo(n)
	}
	result, st := pl.PreFilter(ctx, cs, pod, infos)
	if st.IsSkip() {
		return nil, st
	}
	if !st.IsSuccess() {
		return nil, st
	}
	var feasible []fwk.NodeInfo
	for _, ni := range infos {
		if result != nil && !result.NodeNames.Has(ni.Node().Name) {
			continue
		}
		if pl.Filter(ctx, cs, pod, ni).IsSuccess() {
			feasible = append(feasible, ni)
		}
	}
	if st := pl.PreScore(ctx, cs, pod, feasible); !st.IsSuccess() {
		return nil, st
	}
	scores := make(fwk.NodeScoreList, len(feasible))
	for i, ni := range feasible {
		s, st := pl.Score(ctx, cs, pod, ni)
		require.True(t, st.IsSuccess())
		scores[i] = fwk.NodeScore{Name: ni.Node().Name, Score: s}
	}
	require.True(t, pl.NormalizeScore(ctx, cs, pod, scores).IsSuccess())
	out := map[string]int64{}
	for _, s := range scores {
		out[s.Name] = s.Score
	}
	return out, nil
}

func TestScoring(t *testing.T) {
	tests := []struct {
		name   string
		rtt    map[string]map[string]int64
		stale  []string
		demand string
		want   map[string]int64
	}{
		{
			name: "best scores 100, 2ms window below 10ms",
			rtt: map[string]map[string]int64{
				"a": {"hz": 5_000}, "b": {"hz": 6_000}, "c": {"hz": 6_500}, "d": {"hz": 30_000},
			},
			demand: "hz",
			want:   map[string]int64{"a": 100, "b": 50, "c": 25, "d": 0},
		},
		{
			name: "window widens to 15% of the best",
			rtt: map[string]map[string]int64{
				"a": {"hz": 40_000}, "b": {"hz": 43_000}, "c": {"hz": 46_000},
			},
			demand: "hz",
			want:   map[string]int64{"a": 100, "b": 50, "c": 0},
		},
		{
			name: "demand-weighted mean",
			rtt: map[string]map[string]int64{
				// a: (10*3 + 2*1)/4 = 8ms; b: (4*3 + 12*1)/4 = 6ms.
				"a": {"hz": 10_000, "sh": 2_000}, "b": {"hz": 4_000, "sh": 12_000},
			},
			demand: "hz:3,sh:1",
			want:   map[string]int64{"a": 0, "b": 100},
		},
		{
			name: "missing and stale score 0, never best",
			rtt: map[string]map[string]int64{
				"measured": {"hz": 40_000}, "stale": {"hz": 1_000}, "partial": {"sh": 1_000},
			},
			stale:  []string{"stale"},
			demand: "hz",
			want:   map[string]int64{"measured": 100, "stale": 0, "partial": 0, "unknown": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := cluster(t, tt.rtt, tt.stale...)
			if tt.name == "missing and stale score 0, never best" {
				m.SetLandmark("hz")
				m.Flush()
			}
			pl, _ := newPlugin(t, m)
			nodes := make([]string, 0, len(tt.want))
			for n := range tt.want {
				nodes = append(nodes, n)
			}
			got, st := scoreAll(t, pl, testPod("p", map[string]string{v1alpha1.DemandAnnotation: tt.demand}), nodes)
			require.Nil(t, st)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPodWithoutIntentIsSkipped(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{"a": {"hz": 1000}}))
	_, st := scoreAll(t, pl, testPod("p", nil), []string{"a"})
	require.NotNil(t, st)
	assert.True(t, st.IsSkip())
}

func TestSLO(t *testing.T) {
	rtt := map[string]map[string]int64{
		"near":    {"hz": 8_000, "sh": 30_000},
		"middle":  {"hz": 20_000, "sh": 20_000},
		"far":     {"hz": 41_000, "sh": 9_000},
		"stale":   {"hz": 1_000, "sh": 1_000},
		"unknown": {},
	}
	nodes := []string{"near", "middle", "far", "stale", "unknown"}
	tests := []struct {
		name        string
		annotations map[string]string
		wantNodes   []string // feasible, when the pod is admitted
		wantMsg     string   // PreFilter rejection, otherwise
	}{
		{
			name:        "narrowed to nodes within the SLO",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "25ms"},
			wantNodes:   []string{"near", "middle"},
		},
		{
			name:        "every landmark must be within",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz,sh", v1alpha1.MaxRTTAnnotation: "25ms"},
			wantNodes:   []string{"middle"},
		},
		{
			name:        "p50 is held against the median",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "16ms", v1alpha1.PercentileAnnotation: "p50"},
			wantNodes:   []string{"near", "middle"},
		},
		{
			name:        "none within names landmark, SLO and best",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "5ms"},
			wantMsg:     "no node within 5ms p90 of hz; best is node near at 8ms",
		},
		{
			name:        "none within all landmarks at once",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz,sh", v1alpha1.MaxRTTAnnotation: "10ms"},
			wantMsg:     "no node within 10ms p90 of every demand landmark at once (hz, sh)",
		},
		{
			name:        "unknown landmark",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "gz", v1alpha1.MaxRTTAnnotation: "10ms"},
			wantMsg:     `landmark "gz" named in edgeplace.io/demand does not exist`,
		},
		{
			name:        "malformed annotation",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "ten"},
			wantMsg:     `annotation edgeplace.io/max-rtt="ten": must be a duration with a unit, such as "25ms"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, _ := newPlugin(t, cluster(t, rtt, "stale"))
			got, st := scoreAll(t, pl, testPod("p", tt.annotations), nodes)
			if tt.wantMsg != "" {
				require.NotNil(t, st)
				assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
				assert.Equal(t, tt.wantMsg, st.Message())
				return
			}
			require.Nil(t, st)
			assert.ElementsMatch(t, tt.wantNodes, keys(got))
		})
	}
}

func TestFilterReasons(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{
		"near": {"hz": 5_000}, "far": {"hz": 50_000}, "stale": {"hz": 1_000},
	}, "stale"))
	ctx := context.Background()
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "10ms"})
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(ctx, cs, pod, nil)
	require.True(t, st.IsSuccess())
	// Filter is the guard for paths that bypass PreFilterResult, such as a
	// nominated node.
	assert.True(t, pl.Filter(ctx, cs, pod, nodeInfo("near")).IsSuccess())
	assert.Equal(t, ReasonOverSLO, pl.Filter(ctx, cs, pod, nodeInfo("far")).Message())
	assert.Equal(t, ReasonNoMeasurement, pl.Filter(ctx, cs, pod, nodeInfo("stale")).Message())
	assert.Equal(t, ReasonNoMeasurement, pl.Filter(ctx, cs, pod, nodeInfo("never-measured")).Message())
}

func TestMapUpdateActivatesHelpedPods(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{"a": {"hz": 30_000}, "b": {"hz": 40_000}})
	pl, h := newPlugin(t, m)
	ctx := context.Background()
	strict := testPod("strict", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "10ms"})
	stricter := testPod("stricter", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "1ms"})
	lost := testPod("lost", map[string]string{v1alpha1.DemandAnnotation: "gz"})
	// An SLO pod on a landmark no one measures yet: that the landmark
	// appears is progress (it then waits for, and asks for, measurements).
	lostSLO := testPod("lost-slo", map[string]string{v1alpha1.DemandAnnotation: "gz", v1alpha1.MaxRTTAnnotation: "10ms"})
	typo := testPod("typo", map[string]string{v1alpha1.DemandAnnotation: "gzz", v1alpha1.MaxRTTAnnotation: "10ms"})
	for _, p := range []*v1.Pod{strict, stricter, lost, lostSLO, typo} {
		_, st := pl.PreFilter(ctx, framework.NewCycleState(), p, nil)
		require.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code(), p.Name)
	}

	// An update that helps nobody activates nobody.
	m.SetNodeNetwork(measuredAt("b", "hz", 35_000))
	m.Flush()
	assert.Empty(t, h.activated)

	m.SetNodeNetwork(measuredAt("a", "hz", 9_000))
	m.Flush()
	assert.Equal(t, []string{"strict"}, h.activated, "only the pod the update helps")

	m.SetLandmark("gz")
	m.Flush()
	assert.ElementsMatch(t, []string{"strict", "lost", "lost-slo"}, h.activated, "not the pod whose landmark still does not exist")
}

func measuredAt(node, lm string, p90 int64) *v1alpha1.NodeNetwork {
	return &v1alpha1.NodeNetwork{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Status: v1alpha1.NodeNetworkStatus{Landmarks: []v1alpha1.LandmarkRTT{{
			Landmark: lm, RTTP50Microseconds: p90, RTTP90Microseconds: p90, Samples: 5, ObservedTime: metav1.NewTime(now),
		}}},
	}
}

func TestSignPod(t *testing.T) {
	pl, _ := newPlugin(t, netmap.New())
	frags, st := pl.SignPod(context.Background(), testPod("plain", map[string]string{"team": "cdn"}))
	assert.True(t, st.IsSuccess(), "pods without intent keep batching")
	assert.Empty(t, frags)
	for _, annotations := range []map[string]string{
		{v1alpha1.DemandAnnotation: "hz:2,sh:1"},
		{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "20ms"},
	} {
		_, st := pl.SignPod(context.Background(), testPod("p", annotations))
		assert.Equal(t, fwk.Unschedulable, st.Code(), "%v: a latency ranking must not be reused from an earlier pod", annotations)
	}
}

func keys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHoldsPodsWhileTheMapLoads(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{"a": {"hz": 3_000}})
	m.SetState(netmap.Syncing)
	m.Flush()
	pl, h := newPlugin(t, m)

	_, st := scoreAll(t, pl, testPod("early", map[string]string{v1alpha1.DemandAnnotation: "hz"}), []string{"a"})
	require.NotNil(t, st)
	assert.Equal(t, "network measurements are still loading", st.Message())
	_, st = scoreAll(t, pl, testPod("plain", nil), []string{"a"})
	assert.True(t, st.IsSkip(), "pods without intent are not held")
	hopeless := testPod("hopeless", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "1ms"})
	_, st = scoreAll(t, pl, hopeless, []string{"a"})
	assert.Equal(t, v1alpha1.ReasonLoading, st.Message())

	m.SetNodeNetwork(measuredAt("a", "hz", 2_500)) // an update while still loading
	m.Flush()
	assert.Empty(t, h.activated, "nothing is retried before the map is ready")

	m.SetState(netmap.Ready)
	m.Flush()
	assert.ElementsMatch(t, []string{"early", "hopeless"}, h.activated,
		"every held pod is retried, also one that no node can serve: it then gets the real reason")
	_, st = scoreAll(t, pl, hopeless, []string{"a"})
	require.NotNil(t, st)
	assert.Contains(t, st.Message(), "no node within 1ms")
	got, st := scoreAll(t, pl, testPod("early", map[string]string{v1alpha1.DemandAnnotation: "hz"}), []string{"a"})
	require.Nil(t, st)
	assert.Equal(t, map[string]int64{"a": 100}, got)
}

func TestCandidatesFollowTheMap(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{"a": {"hz": 5_000}, "b": {"hz": 50_000}})
	pl, _ := newPlugin(t, m)
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "10ms"})
	admitted := func() []string {
		res, st := pl.PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
		require.True(t, st.IsSuccess())
		return sets.List(res.NodeNames)
	}
	assert.Equal(t, []string{"a"}, admitted())
	assert.Equal(t, []string{"a"}, admitted(), "the second pod of a burst gets the same answer")

	m.SetNodeNetwork(measuredAt("b", "hz", 4_000))
	m.Flush()
	assert.Equal(t, []string{"a", "b"}, admitted(), "a new snapshot is never answered from the memo")

	pl.now = func() time.Time { return now.Add(10 * time.Minute) }
	res, st := pl.PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
	assert.Nil(t, res)
	assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code(), "measurements that went stale are not answered from the memo")
}
