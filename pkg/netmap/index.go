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

// rttIndex holds, for one landmark and percentile, the rows of each bucket.
// Bucket slices are immutable once published; updates replace them.
type rttIndex [][]int32

// indexChange collects the rows leaving and joining buckets in one flush.
type indexChange struct {
	remove map[int][]int32
	add    map[int][]int32
}

func (c *indexChange) move(row int32, from, to int) {
	if from == to {
		return
	}
	if c.remove == nil {
		c.remove, c.add = map[int][]int32{}, map[int][]int32{}
	}
	if from >= 0 {
		c.remove[from] = append(c.remove[from], row)
	}
	if to >= 0 {
		c.add[to] = append(c.add[to], row)
	}
}

// apply returns a new index with the change applied, sharing untouched buckets.
func (ix rttIndex) apply(c *indexChange) rttIndex {
	if c == nil || c.remove == nil {
		return ix
	}
	out := slices.Clone(ix)
	if out == nil {
		out = make(rttIndex, len(bucketLow))
	}
	touched := map[int]bool{}
	for b := range c.remove {
		touched[b] = true
	}
	for b := range c.add {
		touched[b] = true
	}
	for b := range touched {
		gone := make(map[int32]struct{}, len(c.remove[b]))
		for _, r := range c.remove[b] {
			gone[r] = struct{}{}
		}
		rows := make([]int32, 0, max(0, len(out[b])-len(gone))+len(c.add[b]))
		for _, r := range out[b] {
			if _, ok := gone[r]; !ok {
				rows = append(rows, r)
			}
		}
		out[b] = append(rows, c.add[b]...)
	}
	return out
}
