package integration

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var followGrid = flag.Bool("follow-grid", false, "TestFollowTheLeader also prints every rule of its grid")

// followRule is a rebalancer that knows, for every pair of sites, in which
// past slices it would have missed the workload's SLO: on the truth the
// replay scores (which no real one can know), or on what the probes
// published. It keeps the rebalancer's limits: one replica moved at a time,
// and no move within cooldown slices of the last. In a slice where the
// workload missed its SLO in one of the last missedWithin slices (every
// one of them, with missedThroughout, as the real one's grace period asks;
// missedWithin 0: in any case), it moves one replica to the site that
// makes the pair with the fewest missed slices over the last window slices
// (0: every slice so far), if that is fewer than the current pair's by
// marginPercent of the window. The new replica serves from the next
// slice, sooner than a real replacement can. Like the real one, which has
// no history at first, it moves nothing in the first warmUp slices.
type followRule struct {
	window, cooldown, missedWithin, warmUp int // slices
	missedThroughout                       bool
	marginPercent                          int
}

func (r followRule) String() string {
	missed := fmt.Sprintf("missed in one of the last %d", r.missedWithin)
	switch {
	case r.missedWithin == 0:
		missed = "missed or not"
	case r.missedThroughout:
		missed = fmt.Sprintf("missed in each of the last %d", r.missedWithin)
	}
	return fmt.Sprintf("window %d, cooldown %d, %s, margin %d%%", r.window, r.cooldown, missed, r.marginPercent)
}

// keptMinutes is the violation-minutes of the first placements kept.
func keptMinutes(marks [][][]siteMark, first [][2]int, n int) int {
	minutes := 0
	for i, sites := range marks {
		for t := range n {
			if pairViolated(sites[first[i][0]][t], sites[first[i][1]][t]) {
				minutes++
			}
		}
	}
	return minutes
}

// followTheLeader is the violation-minutes (scored on truth) and moves of
// the rule over the first n slices, from each workload's first placement,
// when it decides on seen: the truth itself, or what the probes published.
func followTheLeader(truth, seen [][][]siteMark, first [][2]int, n int, r followRule) (minutes, moves int) {
	for i := range truth {
		sites := seen[i]
		missed := func(a, b, from, to int) int {
			c := 0
			for t := from; t <= to; t++ {
				if pairViolated(sites[a][t], sites[b][t]) {
					c++
				}
			}
			return c
		}
		cur, next, movedAt := first[i], first[i], -r.cooldown
		for t := range n {
			cur = next
			if pairViolated(truth[i][cur[0]][t], truth[i][cur[1]][t]) {
				minutes++
			}
			if t < r.warmUp || t-movedAt < r.cooldown {
				continue
			}
			if r.missedWithin > 0 {
				from := max(0, t-r.missedWithin+1)
				m := missed(cur[0], cur[1], from, t)
				if m == 0 || (r.missedThroughout && m < t-from+1) {
					continue
				}
			}
			from := 0
			if r.window > 0 {
				from = max(0, t-r.window+1)
			}
			have := missed(cur[0], cur[1], from, t)
			best, fewest := cur, have
			for _, keep := range cur {
				for site := range sites {
					if site == cur[0] || site == cur[1] {
						continue
					}
					if c := missed(keep, site, from, t); c < fewest {
						best, fewest = [2]int{keep, site}, c
					}
				}
			}
			if 100*(have-fewest) > r.marginPercent*(t-from+1) {
				next, movedAt = best, t
				moves++
			}
		}
	}
	return minutes, moves
}

// publishedMarks is siteMarks on what the probes published, as the
// replay writes it (probeWindows: each pair's p90 over its last 5 slices),
// with an entry older than the measurement TTL (5 slices) unknown.
func publishedMarks(data *seattle, plan []replayWorkload, n int) [][][]siteMark {
	tr, windows := newTruth(data), newProbeWindows(data.hosts)
	marks := make([][][]siteMark, len(plan))
	for i := range plan {
		marks[i] = make([][]siteMark, data.hosts)
	}
	minute := func(t int) time.Time { return time.Unix(int64(t)*60, 0) }
	for t := range n {
		tr.advance(t)
		windows.add(tr, data, t, minute(t))
		for i, w := range plan {
			for site := range data.hosts {
				var m siteMark
				for u, h := range w.hosts {
					e := windows.last[site][h]
					switch {
					case e.Landmark == "" || !e.ObservedTime.After(minute(t-probeWindow)):
						m.unknown |= 1 << u
					case float64(e.RTTP90Microseconds)/1000 > w.slo:
						m.over |= 1 << u
					}
				}
				marks[i][site] = append(marks[i][site], m)
			}
		}
	}
	return marks
}

// firstPlacements is each workload's first full set of sites in a replay.
func firstPlacements(t testing.TB, plan []replayWorkload, placements map[string][][]int) [][2]int {
	var out [][2]int
	for _, w := range plan {
		var first []int
		for _, sites := range placements[w.name] {
			if len(sites) == replayReplicas {
				first = sites
				break
			}
		}
		require.Len(t, first, replayReplicas, "%s never had all its replicas", w.name)
		out = append(out, [2]int{first[0], first[1]})
	}
	return out
}

// TestFollowTheLeader: how far a rebalancer held to one move per cooldown
// can lower the replay's violation minutes when it judges pairs of sites
// by their past violations, on the truth and on what the probes published
// (bench/README, "Why it still misses -50%"). From a replay's first
// placement, against that placement kept throughout and the best fixed
// pair in hindsight. best is the rule of the 30-slice-cooldown grid that
// -follow-grid prints with the most minutes saved over the first case's
// 240 and 688 slices on the truth: chosen so, it is a generous bound.
// realConstants and realTrigger take the real rebalancer's constants, the
// second also its grace period; shortCooldown shows what the cooldown
// costs.
func TestFollowTheLeader(t *testing.T) {
	data := loadSeattle(t)
	best := followRule{window: 120, cooldown: 30, missedWithin: 5, warmUp: 10, marginPercent: 2}
	// The real rebalancer's constants: an hour of history, a 10% margin.
	realConstants := followRule{window: 60, cooldown: 30, missedWithin: 5, warmUp: 10, marginPercent: 10}
	realTrigger := realConstants
	realTrigger.missedThroughout = true
	shortCooldown := followRule{window: 30, cooldown: 10, missedWithin: 5, warmUp: 10, marginPercent: 2}
	// A rule's violation-minutes and moves, deciding on the truth and on
	// what the probes published.
	type result struct{ onTruth, movesOnTruth, onPublished, movesOnPublished int }
	type outcome struct {
		kept, hindsight                                 int
		best, realConstants, realTrigger, shortCooldown result
	}
	for _, tc := range []struct {
		placements string
		n          int
		want       outcome
	}{
		{"placements-without-240-history-3.tsv", 240, outcome{kept: 2068, hindsight: 823,
			best: result{1578, 114, 1638, 116}, realConstants: result{1658, 121, 1710, 128},
			realTrigger: result{1650, 98, 1819, 119}, shortCooldown: result{1328, 298, 1506, 328}}},
		{"placements-without-240-history.tsv", 240, outcome{kept: 1905, hindsight: 823,
			best: result{1532, 113, 1554, 117}, realConstants: result{1697, 121, 1582, 128},
			realTrigger: result{1707, 100, 1655, 115}, shortCooldown: result{1328, 309, 1449, 326}}},
		{"placements-without-240.tsv", 240, outcome{kept: 2132, hindsight: 823,
			best: result{1597, 114, 1629, 114}, realConstants: result{1621, 120, 1721, 124},
			realTrigger: result{1727, 104, 1753, 116}, shortCooldown: result{1366, 301, 1510, 326}}},
		{"placements-without-240-history-3.tsv", 688, outcome{kept: 5820, hindsight: 2713,
			best: result{3702, 250, 3970, 262}, realConstants: result{3991, 283, 3865, 283},
			realTrigger: result{4138, 233, 4152, 267}, shortCooldown: result{3100, 705, 3445, 763}}},
		{"placements-without-688.tsv", 688, outcome{kept: 6068, hindsight: 2713,
			best: result{3778, 257, 3870, 263}, realConstants: result{4134, 288, 3713, 283},
			realTrigger: result{4178, 229, 4052, 270}, shortCooldown: result{2953, 694, 3414, 757}}},
		// The replays with rebalancing, from their own first placements:
		// the rule beside what the real rebalancer did from there.
		{"placements-with-240-history-3.tsv", 240, outcome{kept: 2144, hindsight: 823,
			best: result{1530, 113, 1644, 119}, realConstants: result{1731, 122, 1739, 133},
			realTrigger: result{1755, 100, 1769, 119}, shortCooldown: result{1355, 314, 1438, 321}}},
		{"placements-with-688.tsv", 688, outcome{kept: 6244, hindsight: 2713,
			best: result{3657, 246, 3901, 262}, realConstants: result{3923, 279, 3811, 283},
			realTrigger: result{4031, 229, 4116, 265}, shortCooldown: result{3018, 686, 3464, 763}}},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.placements, tc.n), func(t *testing.T) {
			plan := replayPlan(data, tc.n)
			marks, published := siteMarks(data, plan, tc.n), publishedMarks(data, plan, tc.n)
			first := firstPlacements(t, plan, readPlacements(t, filepath.Join("..", "..", "bench", "results", "rebalance", tc.placements)))
			var got outcome
			got.kept = keptMinutes(marks, first, tc.n)
			got.hindsight = bestStaticInHindsight(marks, tc.n)
			change := func(v int) string { return fmt.Sprintf("%d (%+.1f%%)", v, 100*float64(v-got.kept)/float64(got.kept)) }
			t.Logf("first placement kept %d; best fixed pair in hindsight %s", got.kept, change(got.hindsight))
			for _, rule := range []struct {
				r   followRule
				out *result
			}{{best, &got.best}, {realConstants, &got.realConstants}, {realTrigger, &got.realTrigger}, {shortCooldown, &got.shortCooldown}} {
				o := rule.out
				o.onTruth, o.movesOnTruth = followTheLeader(marks, marks, first, tc.n, rule.r)
				o.onPublished, o.movesOnPublished = followTheLeader(marks, published, first, tc.n, rule.r)
				t.Logf("%v: on the truth %s, %d moves; on what the probes published %s, %d moves",
					rule.r, change(o.onTruth), o.movesOnTruth, change(o.onPublished), o.movesOnPublished)
			}
			if *followGrid {
				for _, cooldown := range []int{30, 10} {
					for _, window := range []int{30, 60, 120, 0} {
						for _, margin := range []int{2, 5, 10, 20} {
							for _, missedWithin := range []int{0, 5} {
								r := followRule{window: window, cooldown: cooldown, missedWithin: missedWithin, warmUp: 10, marginPercent: margin}
								m, moves := followTheLeader(marks, marks, first, tc.n, r)
								pm, pmoves := followTheLeader(marks, published, first, tc.n, r)
								t.Logf("grid: %v: on the truth %s, %d moves; on what the probes published %s, %d moves", r, change(m), moves, change(pm), pmoves)
							}
						}
					}
				}
			}
			require.Equal(t, tc.want, got)
			// The target is half the baseline's violation minutes.
			// Held to one move per 30-slice cooldown, knowing the past
			// exactly does not reach it here.
			require.Greater(t, 2*got.best.onTruth, got.kept)
		})
	}
}
