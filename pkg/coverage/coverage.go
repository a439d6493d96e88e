// Package coverage plans where k replicas of a workload go so that its users
// are near some replica: it picks k slots among candidate places to minimise
// the demand-weighted RTT from each user population (landmark) to its
// nearest slot, a k-median problem. A greedy start followed by swap local
// search avoids what placing replicas one by one does: the first lands in the
// middle, close to nobody, and the rest cannot move it.
package coverage

import (
	"cmp"
	"math"
	"slices"
)

// Unknown marks a candidate's missing RTT to a landmark.
const Unknown = -1

// Problem is a k-median instance: Cost[c][l] is candidate c's RTT to
// landmark l (or Unknown), Weights[l] the landmark's share of the users.
type Problem struct {
	Cost    [][]int32
	Weights []int64
}

// Plan is the chosen slots and, for each landmark, the slot serving it.
type Plan struct {
	Slots   []int // candidate indices, len k (fewer if there are fewer usable candidates)
	Serving []int // per landmark: index into Slots
	Total   int64 // sum over landmarks of weight x RTT to its slot
}

// maxSwapRounds bounds the local search; each round tries every swap.
const maxSwapRounds = 16

// Solve returns a plan with k slots. Candidates with an unknown RTT to any
// landmark are not used.
func Solve(p Problem, k int) Plan {
	var usable []int
	for c, row := range p.Cost {
		if complete(row) {
			usable = append(usable, c)
		}
	}
	if k > len(usable) {
		k = len(usable)
	}
	if k == 0 {
		return Plan{}
	}
	// Local search from the greedy start and from greedy starts seeded with
	// each of the best single slots: one start alone can stop a few percent
	// above the optimum.
	var slots []int
	total := int64(math.MaxInt64)
	for _, seed := range append([]int{-1}, bestSingles(p, usable, maxStarts)...) {
		s := improve(p, usable, greedy(p, usable, k, seed))
		if t := p.total(s); t < total {
			slots, total = s, t
		}
	}
	plan := Plan{Slots: slots, Total: total, Serving: make([]int, len(p.Weights))}
	for l := range p.Weights {
		best := 0
		for i, s := range slots {
			if p.Cost[s][l] < p.Cost[slots[best]][l] {
				best = i
			}
		}
		plan.Serving[l] = best
	}
	return plan
}

// maxStarts bounds the extra seeded starts.
const maxStarts = 8

// improve swaps a slot for an unused candidate while that lowers the total.
func improve(p Problem, usable []int, slots []int) []int {
	total := p.total(slots)
	inPlan := map[int]bool{}
	for _, s := range slots {
		inPlan[s] = true
	}
	for range maxSwapRounds {
		improved := false
		for i := range slots {
			for _, c := range usable {
				if inPlan[c] {
					continue
				}
				old := slots[i]
				slots[i] = c
				if t := p.total(slots); t < total {
					total, improved = t, true
					delete(inPlan, old)
					inPlan[c] = true
				} else {
					slots[i] = old
				}
			}
		}
		if !improved {
			break
		}
	}
	return slots
}

// bestSingles returns the n candidates that would serve everyone best alone.
func bestSingles(p Problem, usable []int, n int) []int {
	type scored struct {
		c     int
		total int64
	}
	all := make([]scored, 0, len(usable))
	for _, c := range usable {
		all = append(all, scored{c, p.total([]int{c})})
	}
	slices.SortFunc(all, func(a, b scored) int { return cmp.Compare(a.total, b.total) })
	out := make([]int, 0, n)
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.c)
	}
	return out
}

// greedy starts from seed (unless -1) and adds, until there are k slots,
// the candidate that lowers the total most.
func greedy(p Problem, usable []int, k int, seed int) []int {
	var slots []int
	chosen := map[int]bool{}
	if seed >= 0 {
		slots, chosen[seed] = []int{seed}, true
	}
	for len(slots) < k {
		best, bestTotal := -1, int64(math.MaxInt64)
		for _, c := range usable {
			if chosen[c] {
				continue
			}
			if t := p.total(append(slots, c)); t < bestTotal {
				best, bestTotal = c, t
			}
		}
		slots = append(slots, best)
		chosen[best] = true
	}
	return slots
}

// total is the demand-weighted RTT from each landmark to its nearest slot.
func (p Problem) total(slots []int) int64 {
	var sum int64
	for l, w := range p.Weights {
		nearest := int32(math.MaxInt32)
		for _, s := range slots {
			nearest = min(nearest, p.Cost[s][l])
		}
		sum += w * int64(nearest)
	}
	return sum
}

func complete(row []int32) bool {
	for _, v := range row {
		if v == Unknown {
			return false
		}
	}
	return true
}
