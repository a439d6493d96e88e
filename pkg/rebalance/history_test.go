package rebalance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/netmaptest"
)

// pass is what one pass measures, ms by site then landmark; a pair left
// out is not measured in that pass.
type measuredPass map[string]map[string]int64

// record runs the passes through a history a minute apart, noting every
// site to every landmark, and returns the time of the last.
func record(t *testing.T, h *History, start time.Time, passes []measuredPass) time.Time {
	t.Helper()
	now := start
	for i, ps := range passes {
		now = start.Add(time.Duration(i) * time.Minute)
		sites := map[string]map[string]netmaptest.RTT{}
		for _, s := range []string{"a", "b", "c"} {
			sites[s] = map[string]netmaptest.RTT{}
			for lm, ms := range ps[s] {
				sites[s][lm] = netmaptest.RTT{P50: ms, P90: ms}
			}
		}
		snap := netmaptest.Sites(now, map[string]v1alpha1.Location{"north": {}, "south": {}}, sites).Current()
		view := snap.View(now, time.Hour)
		north, _ := snap.Landmark("north")
		south, _ := snap.Landmark("south")
		h.Begin(now)
		for _, node := range []string{"a-0", "b-0", "c-0"} {
			row, ok := view.Row(node)
			require.True(t, ok, node)
			h.Note(view, row, []int32{north, south}, netmap.P50, snap.LandmarkName)
			h.Note(view, row, []int32{north, south}, netmap.P50, snap.LandmarkName) // once per pass
		}
	}
	return now
}

func repeatPass(p measuredPass, n int) []measuredPass { return repeat(p, n) }

func TestHistoryCompare(t *testing.T) {
	// The workload has a replica on a (serving north) and one on c
	// (serving south); the move in question puts a's replica on b.
	good := measuredPass{"a": {"north": 10, "south": 90}, "b": {"north": 12, "south": 90}, "c": {"north": 90, "south": 10}}
	aBad := measuredPass{"a": {"north": 40, "south": 90}, "b": {"north": 12, "south": 90}, "c": {"north": 90, "south": 10}}
	bBad := measuredPass{"a": {"north": 10, "south": 90}, "b": {"north": 40, "south": 90}, "c": {"north": 90, "south": 10}}
	bUnmeasured := measuredPass{"a": {"north": 40, "south": 90}, "c": {"north": 90, "south": 10}}
	cases := []struct {
		name          string
		window        time.Duration
		passes        []measuredPass
		before, after Outcome
		joint         int
		span          time.Duration
	}{
		{
			name:   "a worse than b for 3 of 10 passes",
			window: time.Hour,
			passes: append(repeatPass(good, 7), repeatPass(aBad, 3)...),
			before: Outcome{Over: 3, MeanUS: (7*10 + 3*40 + 10*10) * 1000 / 20.0},
			after:  Outcome{Over: 0, MeanUS: (12 + 10) * 1000 / 2.0},
			joint:  10, span: 9 * time.Minute,
		},
		{
			name:   "b was as bad before: the history says so",
			window: time.Hour,
			passes: append(repeatPass(bBad, 3), repeatPass(aBad, 3)...),
			before: Outcome{Over: 3, MeanUS: (3*10 + 3*40 + 6*10) * 1000 / 12.0},
			after:  Outcome{Over: 3, MeanUS: (3*40 + 3*12 + 6*10) * 1000 / 12.0},
			joint:  6, span: 5 * time.Minute,
		},
		{
			name:   "passes b was not measured in do not count",
			window: time.Hour,
			passes: append(repeatPass(bUnmeasured, 4), repeatPass(aBad, 2)...),
			before: Outcome{Over: 2, MeanUS: (2*40 + 2*10) * 1000 / 4.0},
			after:  Outcome{Over: 0, MeanUS: (2*12 + 2*10) * 1000 / 4.0},
			joint:  2, span: time.Minute,
		},
		{
			name:   "passes older than the window are forgotten",
			window: 2 * time.Minute,
			passes: append(repeatPass(bBad, 5), repeatPass(aBad, 3)...),
			before: Outcome{Over: 3, MeanUS: 25000},
			after:  Outcome{Over: 0, MeanUS: 11000},
			joint:  3, span: 2 * time.Minute,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := NewHistory(c.window)
			record(t, h, time.Now(), c.passes)
			got := h.Compare([]string{"site-a", "site-c"}, []string{"site-b", "site-c"},
				[]string{"north", "south"}, []int64{1, 1}, netmap.P50, 20000)
			assert.Equal(t, Comparison{Before: c.before, After: c.after, Passes: c.joint, Span: c.span}, got)
		})
	}
}

func TestHistoryOfARowNeverSeen(t *testing.T) {
	h := NewHistory(time.Hour)
	record(t, h, time.Now(), repeatPass(measuredPass{"a": {"north": 10, "south": 10}}, 3))
	got := h.Compare([]string{"site-a"}, []string{"site-x"}, []string{"north"}, []int64{1}, netmap.P50, 0)
	assert.Equal(t, Comparison{}, got)
	ok, why := defaults.Confirmed(RuleSLO, true, got, got)
	assert.False(t, ok)
	assert.Contains(t, why, "measured together for 0s")
}

func TestHistoryForgetsPairsNoPassMeasured(t *testing.T) {
	h := NewHistory(2 * time.Minute)
	now := record(t, h, time.Now(), []measuredPass{{"a": {"north": 10}}})
	require.Len(t, h.series, 6, "three rows to two landmarks, unmeasured ones too")
	for i := 1; i <= 3; i++ {
		h.Begin(now.Add(time.Duration(i) * time.Minute))
	}
	assert.Empty(t, h.series, "nothing noted within the window")
}

func TestConfirmed(t *testing.T) {
	rules := defaults
	rules.HistoryMarginPercent = 10
	cases := []struct {
		name          string
		rule          Rule
		rttBound      bool
		before, after Outcome
		passes        int
		span          time.Duration
		workload      *Comparison // nil: the same as the pod's
		want          bool
		why           string
	}{
		{name: "SLO: 6 of 60 passes fewer over, mean lower", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 10, MeanUS: 30000}, after: Outcome{Over: 4, MeanUS: 20000}, passes: 60, span: time.Hour, want: true},
		{name: "SLO: 5 of 60 fewer is under the margin", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 10, MeanUS: 30000}, after: Outcome{Over: 5, MeanUS: 20000}, passes: 60, span: time.Hour,
			why: "over the SLO in 5 against 10 here (6 fewer needed)"},
		{name: "SLO: fewer over but a higher mean", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 20, MeanUS: 30000}, after: Outcome{Over: 0, MeanUS: 31000}, passes: 60, span: time.Hour,
			why: "at a mean RTT of 31ms against 30ms"},
		{name: "SLO: one pass fewer is the least, however short the window", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 5, MeanUS: 30000}, after: Outcome{Over: 5, MeanUS: 20000}, passes: 5, span: 5 * time.Minute,
			why: "(1 fewer needed)"},
		{name: "SLO: seen together for less than the grace", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 4, MeanUS: 30000}, after: Outcome{Over: 0, MeanUS: 20000}, passes: 4, span: 3 * time.Minute,
			why: "measured together for 3m0s, less than the grace period of 5m0s"},
		{name: "SLO on loss: the history keeps RTT, so a mean no higher", rule: RuleSLO,
			before: Outcome{MeanUS: 30000}, after: Outcome{MeanUS: 30000}, passes: 10, span: 10 * time.Minute, want: true},
		{name: "SLO on loss: a higher mean", rule: RuleSLO,
			before: Outcome{MeanUS: 30000}, after: Outcome{MeanUS: 30100}, passes: 10, span: 10 * time.Minute,
			why: "mean RTT of 30.1ms against 30ms"},
		{name: "gap: ahead by more than the gap", rule: RuleGap,
			before: Outcome{MeanUS: 40000}, after: Outcome{MeanUS: 30000}, passes: 20, span: 20 * time.Minute, want: true},
		{name: "gap: ahead, but less than 30% of 30ms", rule: RuleGap,
			before: Outcome{MeanUS: 38000}, after: Outcome{MeanUS: 30000}, passes: 20, span: 20 * time.Minute,
			why: "not ahead by the gap"},
		{name: "gap: ahead, but over the SLO more often", rule: RuleGap,
			before: Outcome{Over: 1, MeanUS: 40000}, after: Outcome{Over: 2, MeanUS: 20000}, passes: 20, span: 20 * time.Minute,
			why: "over the SLO in 2 against 1"},
		{name: "SLO: better for the pod's users, worse for the workload's", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 10, MeanUS: 30000}, after: Outcome{Over: 0, MeanUS: 20000}, passes: 60, span: time.Hour,
			workload: &Comparison{Before: Outcome{Over: 10, MeanUS: 25000}, After: Outcome{Over: 11, MeanUS: 22000}, Passes: 60, Span: time.Hour},
			why:      "the workload's users as a whole would have been over the SLO in 11 against 10"},
		{name: "SLO: the workload's users no worse off (a sibling serves them)", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 10, MeanUS: 30000}, after: Outcome{Over: 0, MeanUS: 20000}, passes: 60, span: time.Hour,
			workload: &Comparison{Before: Outcome{MeanUS: 9000}, After: Outcome{MeanUS: 13000}, Passes: 60, Span: time.Hour},
			want:     true},
		{name: "SLO: the workload's users more than minGap worse off on the mean", rule: RuleSLO, rttBound: true,
			before: Outcome{Over: 10, MeanUS: 30000}, after: Outcome{Over: 0, MeanUS: 20000}, passes: 60, span: time.Hour,
			workload: &Comparison{Before: Outcome{MeanUS: 9000}, After: Outcome{MeanUS: 14100}, Passes: 60, Span: time.Hour},
			why:      "at a mean RTT of 14.1ms against 9ms"},
		{name: "gap: seen for less than its grace", rule: RuleGap,
			before: Outcome{MeanUS: 40000}, after: Outcome{MeanUS: 20000}, passes: 10, span: 10 * time.Minute,
			why: "less than the grace period of 15m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pod := Comparison{Before: c.before, After: c.after, Passes: c.passes, Span: c.span}
			workload := pod
			if c.workload != nil {
				workload = *c.workload
			}
			ok, why := rules.Confirmed(c.rule, c.rttBound, pod, workload)
			assert.Equal(t, c.want, ok, why)
			if !c.want {
				assert.Contains(t, why, c.why)
			}
		})
	}
}

func TestStepKeepsRTTsCloseEnough(t *testing.T) {
	tests := []struct {
		us, want int32
	}{
		{-1, -1},
		{0, 0},
		{1, 10},
		{10, 10},
		{8_000, 8_000},
		{8_001, 8_010},
		{327_670, 327_670},
		{327_671, 328_000},
		{328_000, 328_000},
		{328_001, 329_000},
		{1_000_000, 1_000_000},
		{33_000_000, 33_000_000},
		{1 << 30, 33_094_000}, // saturates: over any bound an SLO would set
	}
	for _, tc := range tests {
		got := toStep(tc.us).us()
		assert.Equal(t, tc.want, got, "%d us", tc.us)
	}
	// Never rounded down, so that an RTT over a bound stays over it;
	// rounded up by under 10 us below 327.67 ms, by under 0.31% above.
	for us := int32(0); us < 2_000_000; us += 37 {
		got := toStep(us).us()
		require.GreaterOrEqual(t, got, us, "%d us", us)
		if us <= 327_670 {
			require.Less(t, got-us, int32(10), "%d us", us)
		} else {
			require.Less(t, float64(got-us), 0.0031*float64(us), "%d us", us)
		}
	}
}
