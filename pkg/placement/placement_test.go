package placement

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/netmaptest"
)

// testView is three single-node sites and three landmarks: users-a and
// users-b, and db, the landmark that runs in site c.
//
//	node    users-a         users-b         db
//	a-0     5 ms            40 ms           30 ms
//	b-0     50 ms           8 ms            12 ms
//	c-0     (peer est. 20)  (coord. est. 9) 1 ms
func testView(t *testing.T) netmap.View {
	t.Helper()
	now := time.Now()
	ms := func(v int64) netmaptest.RTT { return netmaptest.RTT{P50: v, P90: v} }
	m := netmaptest.Sites(now,
		map[string]v1alpha1.Location{"users-a": {}, "users-b": {}, "db": {Site: "c"}},
		map[string]map[string]netmaptest.RTT{
			"a": {"users-a": ms(5), "users-b": ms(40), "db": ms(30)},
			"b": {"users-a": ms(50), "users-b": ms(8), "db": ms(12)},
			"c": {"db": ms(1)},
		},
		netmaptest.Estimate{Site: "c", Landmark: "users-a", RTT: ms(20), Source: netmap.PeerEstimate},
		netmaptest.Estimate{Site: "c", Landmark: "users-b", RTT: ms(9), Source: netmap.CoordinateEstimate})
	return m.Current().View(now, time.Hour)
}

func request(t *testing.T, view netmap.View, annotations map[string]string) *Request {
	t.Helper()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "p", Annotations: annotations}}
	in, err := intent.FromPod(pod, Options(&config.NetworkLatencyArgs{DefaultPercentile: config.P90, DefaultDemandWeight: 1, MaxDemandLandmarks: 64}))
	require.NoError(t, err)
	r, err := Resolve(view, in)
	require.NoError(t, err)
	return &r
}

func TestCheck(t *testing.T) {
	view := testView(t)
	dbSite, _ := view.Landmark("db")
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		dependency  bool // the dependency runs in site c
		want        map[string]Verdict
	}{{
		name:        "no SLO holds no row",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-a"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": Meets, "c-0": Meets},
	}, {
		name:        "SLO on measurements; peers accepted by default",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": OverSLO, "c-0": Meets},
	}, {
		name:        "estimates none: the peer estimate does not count",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms", v1alpha1.EstimatesAnnotation: "none"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": OverSLO, "c-0": Unknown},
	}, {
		name:        "estimates peers: a coordinate estimate does not count",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "10ms"},
		want:        map[string]Verdict{"a-0": OverSLO, "b-0": Meets, "c-0": Unknown},
	}, {
		name:        "estimates coordinates: it does",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "10ms", v1alpha1.EstimatesAnnotation: "coordinates"},
		want:        map[string]Verdict{"a-0": OverSLO, "b-0": Meets, "c-0": Meets},
	}, {
		name: "depends-on bound, after the SLO",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "45ms",
			v1alpha1.DependsOnAnnotation: "app=db", v1alpha1.DependsOnMaxRTTAnnotation: "20ms"},
		dependency: true,
		want:       map[string]Verdict{"a-0": OverDependency, "b-0": Meets, "c-0": Unknown},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, view, tc.annotations)
			if tc.dependency {
				r.AddDependency([]int32{dbSite})
			}
			byRow := make([]int32, view.NumRows())
			r.Rows(byRow)
			for node, want := range tc.want {
				row, ok := view.Row(node)
				require.True(t, ok)
				assert.Equal(t, want, r.Check(row), node)
				// Rows and RowRTT are one figure, by two routes.
				assert.Equal(t, byRow[row], r.RowRTT(row), node)
			}
		})
	}
}

func TestRowRTT(t *testing.T) {
	view := testView(t)
	r := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users-a:3,users-b:1"})
	for node, want := range map[string]int32{
		"a-0": (3*5_000 + 40_000) / 4,
		"b-0": (3*50_000 + 8_000) / 4,
		"c-0": (3*20_000 + 9_000) / 4, // without an SLO, any estimate counts
	} {
		row, _ := view.Row(node)
		assert.Equal(t, want, r.RowRTT(row), node)
	}

	none := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "1s", v1alpha1.EstimatesAnnotation: "none"})
	row, _ := view.Row("c-0")
	assert.Equal(t, int32(-1), none.RowRTT(row), "an estimate the SLO refuses is not scored either")
}

func TestBest(t *testing.T) {
	view := testView(t)
	rowOf := func(n string) int32 { r, _ := view.Row(n); return r }
	r := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users-b"})
	byRow := make([]int32, view.NumRows())
	r.Rows(byRow)
	assert.Equal(t, []Ranked{{rowOf("b-0"), 8_000}, {rowOf("c-0"), 9_000}, {rowOf("a-0"), 40_000}}, r.Best(byRow, 5, -1))
	assert.Equal(t, []Ranked{{rowOf("b-0"), 8_000}, {rowOf("a-0"), 40_000}}, r.Best(byRow, 2, rowOf("c-0")))

	slo := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "10ms"})
	slo.Rows(byRow)
	assert.Equal(t, []Ranked{{rowOf("b-0"), 8_000}}, slo.Best(byRow, 5, -1), "rows that fail the SLO are not ranked")
}

func TestResolve(t *testing.T) {
	view := testView(t)
	in := &intent.Intent{Demand: []intent.Demand{{Landmark: "users-a", Weight: 1}, {Landmark: "nowhere", Weight: 1}}}
	_, err := Resolve(view, in)
	var missing *MissingLandmarkError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, "nowhere", missing.Landmark)
	assert.Contains(t, err.Error(), `"nowhere"`)

	r := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users-a:3,users-b:1"})
	r.Narrow(func(i int) bool { return i == 1 })
	b, _ := view.Landmark("users-b")
	assert.Equal(t, []int32{b}, r.Demand())
	assert.Equal(t, []int64{1}, r.Weights, "and its weight alone")
	r.Narrow(func(int) bool { return false })
	assert.Equal(t, []int32{b}, r.Demand(), "a narrowing that keeps nothing is ignored")
}

func TestDependencySites(t *testing.T) {
	view := testView(t)
	db, _ := view.Landmark("db")
	pod := func(uid, node string, phase v1.PodPhase) *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Labels: labels.Set{"app": "db"}},
			Spec: v1.PodSpec{NodeName: node}, Status: v1.PodStatus{Phase: phase}}
	}
	assert.Equal(t, []int32{db}, DependencySites(view, "self", []*v1.Pod{
		pod("1", "c-0", v1.PodRunning),
		pod("2", "c-0", v1.PodRunning),    // the same site once
		pod("3", "a-0", v1.PodRunning),    // site a runs no landmark
		pod("4", "", v1.PodPending),       // not placed
		pod("self", "c-0", v1.PodRunning), // the pod itself
		pod("5", "b-0", v1.PodSucceeded),
	}))
}

func TestIntentSharing(t *testing.T) {
	var lms []string
	for i := range 100 {
		lms = append(lms, fmt.Sprintf("users-%d", i))
	}
	many := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "many", Namespace: "default",
		Annotations: map[string]string{v1alpha1.DemandAnnotation: strings.Join(lms, ",")}}}
	one := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "default",
		Annotations: map[string]string{v1alpha1.DemandAnnotation: "users-a"}}}
	none := func(string, string) (*v1alpha1.LatencyProfile, bool) { return nil, false }

	cs := framework.NewCycleState()
	first, err := IntentFor(cs, one, none, DefaultOptions())
	require.NoError(t, err)
	shared, err := SharedIntent(cs, one, none, LenientOptions())
	require.NoError(t, err)
	assert.Same(t, first, shared, "Locality and BandwidthCost read what NetworkLatency resolved")

	// Without NetworkLatency in the cycle, the lenient options parse 100
	// landmarks; NetworkLatency, coming later, still holds its own limit.
	cs = framework.NewCycleState()
	_, err = SharedIntent(cs, many, none, LenientOptions())
	require.NoError(t, err)
	_, err = IntentFor(cs, many, none, DefaultOptions())
	assert.ErrorContains(t, err, "64")
	_, err = SharedIntent(cs, many, none, LenientOptions())
	assert.Error(t, err, "and the plugins after it see its verdict")
}

// TestLossAndJitter: the bounds hold measured loss and jitter only, and a
// lossy path ranks behind a clean one of about the same RTT.
//
//	node    users           loss    jitter
//	a-0     10 ms           0       1 ms
//	b-0     9 ms            2%      1 ms
//	c-0     12 ms           0       8 ms
//	d-0     (peer est. 5)
func TestLossAndJitter(t *testing.T) {
	now := time.Now()
	m := netmaptest.Sites(now,
		map[string]v1alpha1.Location{"users": {}},
		map[string]map[string]netmaptest.RTT{
			"a": {"users": {P50: 10, P90: 10, JitterUS: 1000}},
			"b": {"users": {P50: 9, P90: 9, LossPPM: 20_000, JitterUS: 1000}},
			"c": {"users": {P50: 12, P90: 12, JitterUS: 8000}},
			"d": {},
		},
		netmaptest.Estimate{Site: "d", Landmark: "users", RTT: netmaptest.RTT{P50: 5, P90: 5}, Source: netmap.PeerEstimate})
	view := m.Current().View(now, time.Hour)
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        map[string]Verdict
	}{{
		name:        "no bound",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": Meets, "c-0": Meets, "d-0": Meets},
	}, {
		name:        "loss bound; an estimate says nothing of loss",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users", v1alpha1.MaxLossAnnotation: "1%"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": OverLoss, "c-0": Meets, "d-0": Unknown},
	}, {
		name:        "jitter bound",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users", v1alpha1.MaxJitterAnnotation: "5ms"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": Meets, "c-0": OverJitter, "d-0": Unknown},
	}, {
		name:        "the RTT SLO first",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "users", v1alpha1.MaxRTTAnnotation: "11ms", v1alpha1.MaxLossAnnotation: "1%", v1alpha1.MaxJitterAnnotation: "5ms"},
		want:        map[string]Verdict{"a-0": Meets, "b-0": OverLoss, "c-0": OverSLO, "d-0": Unknown},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, view, tc.annotations)
			assert.Equal(t, len(tc.annotations) > 1, r.HoldsRows())
			for node, want := range tc.want {
				row, ok := view.Row(node)
				require.True(t, ok)
				assert.Equal(t, want, r.Check(row), node)
			}
		})
	}

	r := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "users"})
	rowA, _ := view.Row("a-0")
	rowB, _ := view.Row("b-0")
	assert.EqualValues(t, 10_000, r.RowRTT(rowA))
	assert.EqualValues(t, 9_000*(1+netmap.LossPenalty*0.02), r.RowRTT(rowB), "2% loss costs 20% of the RTT")
	byRow := make([]int32, view.NumRows())
	r.Rows(byRow)
	best := r.Best(byRow, 2, -1)
	require.Len(t, best, 2)
	assert.Equal(t, []int32{rowA}, []int32{best[1].Row}, "behind the estimated 5 ms, the clean 10 ms path beats the lossy 9 ms one")
}
