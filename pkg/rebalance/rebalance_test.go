package rebalance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/netmaptest"
	"github.com/edgeplace/edgeplace/pkg/placement"
)

var defaults = Rules{SLOGrace: 5 * time.Minute, GapGrace: 15 * time.Minute, MinGap: 5 * time.Millisecond, MinGapPercent: 30}

// testView is four single-node sites and two landmarks, north and south
// (ms; loss in ppm):
//
//	node    north            south
//	near-0  10               60
//	mid-0   30               30
//	far-0   50, 2% loss      10
//	old-0   (estimate 5)     -
func testView(t *testing.T) netmap.View {
	t.Helper()
	now := time.Now()
	ms := func(v int64) netmaptest.RTT { return netmaptest.RTT{P50: v, P90: v} }
	lossy := ms(50)
	lossy.LossPPM = 20000
	m := netmaptest.Sites(now,
		map[string]v1alpha1.Location{"north": {}, "south": {}},
		map[string]map[string]netmaptest.RTT{
			"near": {"north": ms(10), "south": ms(60)},
			"mid":  {"north": ms(30), "south": ms(30)},
			"far":  {"north": lossy, "south": ms(10)},
			"old":  {},
		},
		netmaptest.Estimate{Site: "old", Landmark: "north", RTT: ms(5), Source: netmap.CoordinateEstimate})
	return m.Current().View(now, time.Hour)
}

func request(t *testing.T, view netmap.View, annotations map[string]string) *placement.Request {
	t.Helper()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "p", Annotations: annotations}}
	in, err := intent.FromPod(pod, placement.Options(&config.NetworkLatencyArgs{DefaultPercentile: config.P90, DefaultDemandWeight: 1, MaxDemandLandmarks: 64}))
	require.NoError(t, err)
	r, err := placement.Resolve(view, in)
	require.NoError(t, err)
	r.Accept = 0 // measurements only, as the rebalancer judges
	return &r
}

func row(t *testing.T, view netmap.View, node string) int32 {
	t.Helper()
	r, ok := view.Row(node)
	require.True(t, ok, node)
	return r
}

func best(req *placement.Request) []placement.Ranked {
	byRow := make([]int32, req.View.NumRows())
	req.Rows(byRow)
	return req.Best(byRow, 4, -1)
}

func TestJudge(t *testing.T) {
	view := testView(t)
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		node        string
		violation   placement.Verdict
		behind      bool
		rtt         int32
		bestNode    string // "" none
	}{
		{name: "on the nearest node", annotations: map[string]string{v1alpha1.DemandAnnotation: "north"},
			node: "near-0", rtt: 10000, bestNode: "mid-0"},
		{name: "behind by 20ms against max(5ms, 30% of 10ms)", annotations: map[string]string{v1alpha1.DemandAnnotation: "north"},
			node: "mid-0", rtt: 30000, behind: true, bestNode: "near-0"},
		{name: "over its SLO", annotations: map[string]string{v1alpha1.DemandAnnotation: "north", v1alpha1.MaxRTTAnnotation: "20ms"},
			node: "mid-0", rtt: 30000, violation: placement.OverSLO, behind: true, bestNode: "near-0"},
		{name: "behind by 3ms: within the 5ms floor", annotations: map[string]string{v1alpha1.DemandAnnotation: "north:1,south:1"},
			node: "mid-0", rtt: 30000, bestNode: "far-0"},
		{name: "over its loss bound; the best node meets it", annotations: map[string]string{v1alpha1.DemandAnnotation: "north", v1alpha1.MaxLossAnnotation: "1%"},
			node: "far-0", rtt: 60000, violation: placement.OverLoss, behind: true, bestNode: "near-0"},
		{name: "an estimate alone does not make a node bad, nor a node good", annotations: map[string]string{v1alpha1.DemandAnnotation: "north", v1alpha1.MaxRTTAnnotation: "8ms"},
			node: "old-0", rtt: -1, bestNode: ""},
		{name: "no node meets the SLO: violated, nothing to move to", annotations: map[string]string{v1alpha1.DemandAnnotation: "north", v1alpha1.MaxRTTAnnotation: "8ms"},
			node: "near-0", rtt: 10000, violation: placement.OverSLO, bestNode: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(t, view, tc.annotations)
			r := row(t, view, tc.node)
			f := defaults.Judge(req, r, best(req))
			assert.Equal(t, tc.violation, f.Violation, "violation")
			assert.Equal(t, tc.behind, f.Behind, "behind")
			assert.Equal(t, tc.rtt, f.RTT, "rtt")
			if tc.bestNode == "" {
				assert.Equal(t, int32(-1), f.Best.Row, "no best")
			} else {
				assert.Equal(t, row(t, view, tc.bestNode), f.Best.Row, "best")
			}
			assert.Equal(t, tc.violation != placement.Meets || tc.behind, f.Bad())
		})
	}
}

func TestImproves(t *testing.T) {
	behind := Finding{RTT: 30000, Behind: true}
	assert.True(t, defaults.Improves(behind, 10000), "20ms better")
	assert.False(t, defaults.Improves(behind, 26000), "4ms better: inside the floor")
	assert.False(t, defaults.Improves(behind, -1), "unknown")
	violated := Finding{RTT: 30000, Violation: placement.OverSLO}
	assert.False(t, defaults.Improves(violated, 29000), "a violation still needs a node ahead by the gap")
	assert.True(t, defaults.Improves(violated, 20000), "10ms ahead")
}

func TestServed(t *testing.T) {
	view := testView(t)
	req := request(t, view, map[string]string{v1alpha1.DemandAnnotation: "north,south"})
	near, mid, far := row(t, view, "near-0"), row(t, view, "mid-0"), row(t, view, "far-0")
	for _, tc := range []struct {
		name     string
		row      int32
		siblings []int32
		want     []bool
	}{
		{"alone: serves all it measures", mid, nil, []bool{true, true}},
		{"north's replica", near, []int32{far}, []bool{true, false}},
		{"south's replica", far, []int32{near}, []bool{false, true}},
		{"between two nearer ones: serves nobody", mid, []int32{near, far}, []bool{false, false}},
		{"a tie serves both", near, []int32{near}, []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Served(req, tc.row, tc.siblings)
			assert.Equal(t, tc.want, got)
			count := 0
			for _, s := range tc.want {
				if s {
					count++
				}
			}
			assert.Equal(t, count, n)
		})
	}
}

// TestHysteresis steps a tracker through passes a minute apart.
func TestHysteresis(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	violated := Finding{Violation: placement.OverSLO, RTT: 50000}
	behind := Finding{Behind: true, RTT: 50000}
	both := Finding{Violation: placement.OverSLO, Behind: true, RTT: 50000}
	fine := Finding{RTT: 10000}
	for _, tc := range []struct {
		name   string
		passes []Finding // one a minute
		want   []Rule    // per pass
	}{
		{"violated for 5 minutes", []Finding{violated, violated, violated, violated, violated, violated},
			[]Rule{"", "", "", "", "", RuleSLO}},
		{"a violation that recovers starts over", []Finding{violated, violated, violated, violated, fine, violated, violated, violated, violated, violated, violated},
			[]Rule{"", "", "", "", "", "", "", "", "", "", RuleSLO}},
		{"a network that flips every minute never moves a pod", []Finding{violated, fine, violated, fine, violated, fine, violated, fine, violated, fine, violated},
			[]Rule{"", "", "", "", "", "", "", "", "", "", ""}},
		{"behind needs 15 minutes", append(repeat(behind, 15), behind),
			append(repeat(Rule(""), 15), RuleGap)},
		{"behind for 12 minutes, then violated as well: each rule counts its own time", append(repeat(behind, 12), repeat(both, 6)...),
			append(repeat(Rule(""), 15), RuleGap, RuleGap, RuleSLO)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(defaults, 30*time.Minute)
			for i, f := range tc.passes {
				now := start.Add(time.Duration(i) * time.Minute)
				tr.Begin()
				got, _ := tr.Observe("pod", f, now)
				tr.End(now)
				assert.Equal(t, tc.want[i], got, "pass %d", i)
			}
		})
	}
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestTrackerForgetsAndCools(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := NewTracker(defaults, 30*time.Minute)
	violated := Finding{Violation: placement.OverSLO}
	tr.Begin()
	tr.Observe("a", violated, now)
	tr.End(now)
	// A pass that does not see the pod (gone, or no longer judged) forgets it.
	tr.Begin()
	tr.End(now.Add(time.Minute))
	tr.Begin()
	rule, _ := tr.Observe("a", violated, now.Add(6*time.Minute))
	assert.Empty(t, rule, "a pod seen again starts its grace anew")
	tr.End(now.Add(6 * time.Minute))

	tr.Moved("workload", now)
	assert.Equal(t, 30*time.Minute, tr.Cooling("workload", now))
	assert.Equal(t, 5*time.Minute, tr.Cooling("workload", now.Add(25*time.Minute)))
	tr.Begin()
	tr.End(now.Add(30 * time.Minute))
	assert.Zero(t, tr.Cooling("workload", now.Add(30*time.Minute)))
	assert.Zero(t, tr.Cooling("other", now))
}
