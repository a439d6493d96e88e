package coverage

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Three user groups far apart, one near site for each, and a "middle" site
// moderately close to all: the one a replica-by-replica greedy picks first.
var spread = Problem{
	Cost: [][]int32{
		//  north  west  south (ms)
		{3, 40, 40},  // 0: near north
		{40, 3, 40},  // 1: near west
		{40, 40, 3},  // 2: near south
		{15, 15, 15}, // 3: the middle
		{30, 30, 60}, // 4
	},
	Weights: []int64{1, 1, 1},
}

func TestOneReplicaGoesToTheMiddle(t *testing.T) {
	plan := Solve(spread, 1)
	assert.Equal(t, []int{3}, plan.Slots)
	assert.EqualValues(t, 45, plan.Total)
}

func TestThreeReplicasCoverThreeGroups(t *testing.T) {
	plan := Solve(spread, 3)
	assert.ElementsMatch(t, []int{0, 1, 2}, plan.Slots, "the swap search leaves the middle")
	assert.EqualValues(t, 9, plan.Total)
	for l, i := range plan.Serving {
		assert.Equal(t, l, plan.Slots[i], "each group is served by its near site")
	}
}

func TestUnknownCandidatesAreSkipped(t *testing.T) {
	p := Problem{Cost: [][]int32{{1, Unknown}, {5, 5}}, Weights: []int64{1, 1}}
	assert.Equal(t, []int{1}, Solve(p, 2).Slots, "k shrinks to the usable candidates")
	assert.Empty(t, Solve(Problem{Cost: [][]int32{{Unknown}}, Weights: []int64{1}}, 1).Slots)
}

// TestNearOptimal compares the plan with exhaustive search on random
// instances small enough to enumerate.
func TestNearOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	optimal, worst := 0, 1.0
	for range 500 {
		candidates, landmarks, k := 4+rng.IntN(8), 2+rng.IntN(6), 1+rng.IntN(3)
		p := Problem{Weights: make([]int64, landmarks)}
		for l := range p.Weights {
			p.Weights[l] = int64(1 + rng.IntN(10))
		}
		for range candidates {
			row := make([]int32, landmarks)
			for l := range row {
				row[l] = int32(1 + rng.IntN(100))
			}
			p.Cost = append(p.Cost, row)
		}
		got := Solve(p, k)
		want := exhaustive(p, k)
		ratio := float64(got.Total) / float64(want)
		require.LessOrEqual(t, ratio, 1.05, "within 5%% of the optimum")
		worst = max(worst, ratio)
		if got.Total == want {
			optimal++
		}
	}
	t.Logf("optimal in %d of 500 instances; worst %.3fx the optimum", optimal, worst)
	assert.GreaterOrEqual(t, optimal, 490)
}

func exhaustive(p Problem, k int) int64 {
	best := int64(-1)
	var pick func(start int, chosen []int)
	pick = func(start int, chosen []int) {
		if len(chosen) == k {
			if t := p.total(chosen); best < 0 || t < best {
				best = t
			}
			return
		}
		for c := start; c < len(p.Cost); c++ {
			pick(c+1, append(chosen, c))
		}
	}
	pick(0, nil)
	return best
}

// TestNearRows: each slot gets the best row for its users, and a row nearly
// as near (within max(2ms, 20%)) counts as that slot, so that a replica
// there fills it; a row well behind does not, no row counts for two slots,
// and rows without nodes are left out.
func TestNearRows(t *testing.T) {
	costs := [][2]float64{
		//  east    west (us); -1: unknown
		{10_000, 90_000}, // 0: best for the east slot
		{11_500, 90_000}, // 1: 1.5ms behind it: within 2ms
		{90_000, 10_000}, // 2: best for the west slot
		{90_000, 30_000}, // 3: 20ms behind it
		{12_000, 12_500}, // 4: near both; 2ms behind east, 2.5ms behind west
		{-1, 10_500},     // 5: unknown to the east, near the west slot's users
		{9_000, 9_000},   // 6: would be best for both, but has no nodes
	}
	cost := func(row int32, slot int) (float64, bool) {
		c := costs[row][slot]
		return c, c >= 0
	}
	window := func(best float64) float64 { return max(2000, 0.2*best) } // NetworkLatency's default
	best, near := nearRows(int32(len(costs)), 2, cost, func(row int32) bool { return row != 6 }, window)
	assert.Equal(t, []int32{0, 2}, best)
	assert.Equal(t, []int32{0, 1, 4}, near[0], "nearest first")
	assert.Equal(t, []int32{2, 5}, near[1], "3 is too far behind")
}
