package estimate

import (
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// triangle caps a row's estimated RTT to a landmark through third places:
// a landmark k with nodes in its own place gives, with the row's measured
// RTT to k (a) and what k's nodes measured to the landmark (b), a path of
// a+b, and the direct one is rarely longer. Coordinates fitted on every
// measurement tend to put a site far from users it is near (on the
// Seattle testbed's matrix they overestimated near pairs about threefold);
// the cap comes from the site's own measurements.
//
// The lower bound the triangle inequality also gives, max |a-b|, is not
// used: measured networks break the inequality often enough that on the
// Seattle matrix it crossed the upper bound for 97% of the pairs, and
// applying it where it did not made placements worse.
type triangle struct {
	via []int32 // landmarks with fresh measurements from co-located rows
	// from holds, per via landmark, the smallest fresh p50 (us) from its
	// co-located rows to each landmark; -1 unknown.
	from [][]int32
}

func newTriangle(view netmap.View, near places) triangle {
	width := int32(view.NumLandmarks())
	var t triangle
	for k := range width {
		if near.lmCity[k] == "" {
			continue
		}
		var from []int32
		for _, r := range near.rowsIn[near.lmCity[k]] {
			if !near.together(r, k) {
				continue
			}
			for lm := range width {
				rtt, fresh := view.RTT(r, lm, netmap.P50)
				if !fresh || rtt <= 0 {
					continue
				}
				if from == nil {
					from = make([]int32, width)
					for i := range from {
						from[i] = -1
					}
				}
				if from[lm] < 0 || rtt < from[lm] {
					from[lm] = rtt
				}
			}
		}
		if from != nil {
			t.via, t.from = append(t.via, k), append(t.from, from)
		}
	}
	return t
}

// bound returns us, or the shortest path (us) from row r to landmark lm
// through a third place when that is shorter.
func (t triangle) bound(view netmap.View, r, lm int32, us int32) int32 {
	for i, k := range t.via {
		b := t.from[i][lm]
		if k == lm || b < 0 {
			continue
		}
		if a, fresh := view.RTT(r, k, netmap.P50); fresh && a > 0 {
			us = min(us, a+b)
		}
	}
	return us
}
