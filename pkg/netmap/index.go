package netmap

import (
	"math"
	"slices"
	"sort"
)

// The per-landmark index groups rows into RTT buckets: 250us wide below 20ms,
// then about 3% wide (24 per doubling) up to a minute. A pod's SLO selects
// whole buckets below the bound and checks only the boundary bucket row by
// row, so PreFilter's work follows the number of candidates, and moving one
// row touches two buckets.
var bucketLow = func() []int32 {
	var lows []int32
	for us := int32(0); us < 20_000; us += 250 {
		lows = append(lows, us)
	}
	for k := 0; ; k++ {
		low := int32(20_000 * math.Pow(2, float64(k)/24))
		if low > 60_000_000 {
			break
		}
		if low > lows[len(lows)-1] {
			lows = append(lows, low)
		}
	}
	return lows
}()

func bucketOf(us int32) int {
	return sort.Search(len(bucketLow), func(i int) bool { return bucketLow[i] > us }) - 1
}

// rttIndex holds, for one landmark and percentile, the rows of each bucket,
// in groups of bucketsPerGroup so that an update copies one small group,
// not the whole bucket array. Groups and bucket slices are immutable once
// published; updates replace them.
type rttIndex []*bucketGroup

const bucketsPerGroup = 32

type bucketGroup [bucketsPerGroup][]int32

var numGroups = (len(bucketLow) + bucketsPerGroup - 1) / bucketsPerGroup

// bucket returns the rows of bucket b.
func (ix rttIndex) bucket(b int) []int32 {
	if g := ix[b/bucketsPerGroup]; g != nil {
		return g[b%bucketsPerGroup]
	}
	return nil
}

// indexChange collects the rows leaving and joining buckets in one flush.
type indexChange struct {
	moves []indexMove
}

type indexMove struct {
	row      int32
	from, to int // -1: none
}

func (c *indexChange) move(row int32, from, to int) {
	if from != to {
		c.moves = append(c.moves, indexMove{row, from, to})
	}
}

// apply returns a new index with the change applied, sharing untouched
// groups and buckets; a touched one is copied, never written in place.
func (ix rttIndex) apply(c *indexChange) rttIndex {
	if len(c.moves) == 0 {
		return ix
	}
	out := slices.Clone(ix)
	if out == nil {
		out = make(rttIndex, numGroups)
	}
	owned := map[int]bool{}
	set := func(b int, rows []int32) {
		g := b / bucketsPerGroup
		if !owned[g] {
			owned[g] = true
			fresh := &bucketGroup{}
			if out[g] != nil {
				*fresh = *out[g]
			}
			out[g] = fresh
		}
		out[g][b%bucketsPerGroup] = rows
	}
	if len(c.moves) <= 8 {
		// A probe's update moves a row or two: copy the buckets involved.
		for _, m := range c.moves {
			if m.from >= 0 {
				set(m.from, slices.DeleteFunc(slices.Clone(out.bucket(m.from)), func(r int32) bool { return r == m.row }))
			}
			if m.to >= 0 {
				set(m.to, append(slices.Clip(out.bucket(m.to)), m.row))
			}
		}
		return out
	}
	// Many moves (a burst, or a rebuild): group them by bucket and copy each
	// touched bucket once.
	leaving := map[int]map[int32]struct{}{}
	joining := map[int][]int32{}
	for _, m := range c.moves {
		if m.from >= 0 {
			if leaving[m.from] == nil {
				leaving[m.from] = map[int32]struct{}{}
			}
			leaving[m.from][m.row] = struct{}{}
		}
		if m.to >= 0 {
			joining[m.to] = append(joining[m.to], m.row)
		}
	}
	for b, gone := range leaving {
		old := out.bucket(b)
		rows := make([]int32, 0, len(old)+len(joining[b]))
		for _, r := range old {
			if _, ok := gone[r]; !ok {
				rows = append(rows, r)
			}
		}
		set(b, append(rows, joining[b]...))
		delete(joining, b)
	}
	for b, come := range joining {
		set(b, append(slices.Clip(out.bucket(b)), come...))
	}
	return out
}
