package estimate

import (
	"cmp"
	"slices"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// separations are lower bounds of the RTT between two landmarks, from the
// rows in each landmark's place (its city, on its carrier where both name
// one): such a row's RTT to the other landmark, less its RTT to its own,
// is under the landmarks' RTT by the triangle inequality. They give the
// triangle check its bound: a row that measured landmark a at x cannot be
// much nearer than separation(a, b)-x to b (netmap.TriangleBelow). It
// needs no peers of the row, so it also holds nodes alone in their site
// and city, and two nodes of a site that publish the same lie.
//
// Each end keeps its two lowest values, so that a row is never held to its
// own figure; an end counts with minPeers rows (a lone row could inflate
// it), and the separation is the lower of the two ends where both count:
// making an honest row suspect takes every row at both ends, or every row
// at the one end that counts, to lie upwards. A row that lies downwards
// only weakens the check for pairs that involve its place.
type separations struct {
	width int32
	ends  []lowestTwo // [from*width+to]: the rows in from's place, their RTT to `to` less their RTT to from
	// widest is, per landmark, an upper bound of its separations from the
	// others, whichever row is judged: rows whose measurements are all
	// above what it allows are passed over.
	widest []int32
}

func newSeparations(view netmap.View, near places) *separations {
	w := int32(view.NumLandmarks())
	s := &separations{width: w, ends: make([]lowestTwo, w*w), widest: make([]int32, w)}
	for i := range s.ends {
		s.ends[i].row = -1
	}
	for from := range w {
		city := near.lmCity[from]
		if city == "" {
			continue
		}
		for _, r := range near.rowsIn[city] {
			if !near.together(r, from) {
				continue
			}
			own, fresh := view.RTT(r, from, netmap.P50)
			if !fresh {
				continue
			}
			for to := range w {
				if d, fresh := view.RTT(r, to, netmap.P50); fresh && to != from {
					s.ends[from*w+to].add(max(0, d-own), r)
				}
			}
		}
	}
	for a := range w {
		for b := range w {
			for _, end := range []*lowestTwo{&s.ends[a*w+b], &s.ends[b*w+a]} {
				if end.n >= minPeers {
					s.widest[b] = max(s.widest[b], end.second)
				}
			}
		}
	}
	return s
}

// between returns the separation of landmarks a and b that row r is held
// to: r's own values left out.
func (s *separations) between(view netmap.View, near places, r, a, b int32) (int32, bool) {
	member := func(from, to int32) bool {
		if !near.together(r, from) {
			return false
		}
		_, f1 := view.RTT(r, from, netmap.P50)
		_, f2 := view.RTT(r, to, netmap.P50)
		return f1 && f2
	}
	sep, ok := int32(0), false
	for _, end := range [][2]int32{{a, b}, {b, a}} {
		lo := &s.ends[end[0]*s.width+end[1]]
		v, n := lo.without(r, member(end[0], end[1]))
		if n < minPeers {
			continue
		}
		if !ok || v < sep {
			sep, ok = v, true
		}
	}
	return sep, ok
}

// triangleFinding is why the triangle check does not trust a measurement.
type triangleFinding struct {
	via, viaRTT, separation, floor int32
}

// implausible returns, by row and landmark, the published measurements
// under the triangle bound through at least half of the other landmarks
// the row measured (netmap.TriangleBelow of their separation from the
// landmark and the row's RTT to them). One bound alone is not enough:
// measured networks break the triangle inequality often, and on the
// Seattle testbed's matrix any one of 97 bounds flagged 30% of honest
// entries, half of them 0.11% (TestTriangleCheckOnMeasuredMatrices in
// cmd/kubectl-edgeplace/evaluate). Each is held to the via whose bound is
// that share's: the floor from which it would be trusted. The row's own
// figures are the vias, lies included: a very low one can put its honest
// figures to other landmarks under the bound too, which costs a lying
// row the trust of more of its entries, not an honest row.
func (s *separations) implausible(view netmap.View, near places) map[[2]int32]triangleFinding {
	out := map[[2]int32]triangleFinding{}
	w := s.width
	values := make([]int32, w)
	var bounds []triangleFinding
	for r := range int32(view.NumRows()) {
		lowest := int32(-1)
		for lm := range w {
			values[lm] = -1
			if v, ok := published(view, r, lm); ok {
				values[lm] = v
				if lowest < 0 || v < lowest {
					lowest = v
				}
			}
		}
		if lowest < 0 {
			continue
		}
		for lm, v := range values {
			if v < 0 || v >= netmap.TriangleBelow(s.widest[lm], lowest) {
				continue
			}
			bounds = bounds[:0]
			for via, x := range values {
				if via == lm || x < 0 {
					continue
				}
				if sep, ok := s.between(view, near, r, int32(via), int32(lm)); ok {
					bounds = append(bounds, triangleFinding{via: int32(via), viaRTT: x, separation: sep, floor: netmap.TriangleBelow(sep, x)})
				}
			}
			if len(bounds) == 0 {
				continue
			}
			// The share's bound: v is under it exactly when it is under
			// at least that share of the bounds.
			slices.SortFunc(bounds, func(a, b triangleFinding) int { return cmp.Compare(b.floor, a.floor) })
			at := bounds[(len(bounds)+triangleShareDenominator-1)/triangleShareDenominator-1]
			if v < at.floor {
				out[[2]int32{r, int32(lm)}] = at
			}
		}
	}
	return out
}

// triangleShareDenominator: a measurement is suspect when it is under the
// triangle bound through 1/triangleShareDenominator of the landmarks it can
// be held to (half; chosen with netmap.TriangleBelow's constants).
const triangleShareDenominator = 2
