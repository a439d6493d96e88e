package netmap

import (
	"cmp"
	"math"
	"math/bits"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/edgeplace/edgeplace/pkg/topology"
)

// The read API of the map: a View is a Snapshot read at one instant with
// one TTL, and everything a reader asks of it is here. Lookups by node and
// row, measurements and accepted estimates (Value), whole columns and
// weighted means over many landmarks (the scheduler's pass per cycle), and
// the per-landmark index (Nearest, Best, NodesWithin).

// View reads a snapshot as of now: entries observed more than ttl ago read
// as missing.
func (s *Snapshot) View(now time.Time, ttl time.Duration) View {
	since := now.Add(-ttl).Unix()
	return View{Snapshot: s, freshSince: uint32(min(max(since, 1), math.MaxUint32))}
}

// View is a Snapshot read at one instant with one TTL.
type View struct {
	*Snapshot
	freshSince uint32
}

// Same says whether two views read the same snapshot at the same freshness
// cut-off, and so give the same answers.
func (v View) Same(o View) bool {
	return v.Snapshot == o.Snapshot && v.freshSince == o.freshSince
}

// Row returns the row holding a node's measurements.
func (v View) Row(node string) (int32, bool) {
	if ref, ok := v.Node(node); ok && ref.Row >= 0 {
		return ref.Row, true
	}
	return 0, false
}

// Node returns where a node's row and location are; false for a node the
// map has not seen (yet).
func (v View) Node(node string) (NodeRef, bool) {
	if v.nodes == nil {
		return NodeRef{}, false
	}
	return v.nodes.lookup(node)
}

// NodeSite returns the site a node's labels put it in ("" if none).
func (v View) NodeSite(node string) string {
	if ref, ok := v.Node(node); ok {
		return v.locations[ref.Location].Site
	}
	return ""
}

// Location returns a location by ID; NumLocations is how many there are.
func (v View) Location(id int32) topology.Location { return v.locations[id] }

// NumLocations is the number of distinct node locations.
func (v View) NumLocations() int { return len(v.locations) }

// RTT returns a fresh measurement in microseconds; ok is false when the
// entry is missing or stale.
func (v View) RTT(row, landmark int32, p Percentile) (us int32, ok bool) {
	e := v.table.at(row, landmark)
	if e.observed < v.freshSince {
		return 0, false
	}
	return e.rtt[p], true
}

// Quality returns a fresh measurement's loss (parts per million) and jitter
// (us), each rounded up to the map's units (0.01%, 10 us); false when the
// entry is missing or stale. Estimates stand in for RTTs only: no peer or
// coordinate says what a path loses.
func (v View) Quality(row, landmark int32) (lossPPM, jitterUS int32, ok bool) {
	e := v.table.at(row, landmark)
	if e.observed < v.freshSince {
		return 0, 0, false
	}
	return int32(e.loss) * lossUnitPPM, int32(e.jitter) * jitterUnitUS, true
}

// LossPenalty is k in the effective RTT that rows are ranked by,
// rtt x (1 + k x loss), loss being the measured share of probes lost. A
// lost packet costs a request about one more round trip before the sender
// resends it, and a response of k packets (10 is a TCP initial congestion
// window, about 14 KB) meets k times the per-packet loss. It is a model,
// not a fit: this repository has no way to make a path lossy (bench/README,
// "Loss and jitter"). SLOs hold the RTT itself, not this figure.
const LossPenalty = 10

// effective is an entry's RTT as rows are ranked: penalised by its loss.
func (e *entry) effective(p Percentile) int32 {
	if e.loss == 0 {
		return e.rtt[p]
	}
	return int32(int64(e.rtt[p]) * (1_000_000/lossUnitPPM + LossPenalty*int64(e.loss)) / (1_000_000 / lossUnitPPM))
}

// Observed returns when an entry was measured (zero if never).
func (v View) Observed(row, landmark int32) time.Time {
	if e := v.table.at(row, landmark); e.observed != 0 {
		return time.Unix(int64(e.observed), 0)
	}
	return time.Time{}
}

// NumRows is the number of rows; row IDs are below it.
func (v View) NumRows() int { return len(v.rows) }

// Column writes to out[row] each row's effective RTT to one landmark: the
// fresh measurement penalised by its loss (LossPenalty), else an estimate
// from an accepted source, else -1. out must
// hold NumRows values. It reads the table in memory order; a column is a
// pure function of the view, so a reader that needs it for many pods
// computes it once per view.
func (v View) Column(lm int32, p Percentile, accept Source, out []int32) {
	rows := len(v.rows)
	fresh := v.freshSince
	for c := range v.table.chunks {
		base := c * chunkRows
		n := min(chunkRows, rows-base)
		if n <= 0 {
			break
		}
		col, dst := v.table.column(c, lm)[:n], out[base:base+n]
		var stale uint64
		for r := range col {
			dst[r] = col[r].effective(p)
			if col[r].observed < fresh {
				stale |= 1 << r
			}
		}
		// Estimates, off the loop above: most entries are fresh.
		for ; stale != 0; stale &= stale - 1 {
			r := bits.TrailingZeros64(stale)
			if est, _, ok := v.estimated(int32(base+r), lm, p, accept); ok {
				dst[r] = est
			} else {
				dst[r] = -1
			}
		}
	}
}

// WeightedRTT writes to out[row] the weighted mean of each row's RTT to the
// given landmarks (Column's), or -1 where any of them is unknown; out must
// hold NumRows values.
func (v View) WeightedRTT(lms []int32, weights []int64, p Percentile, accept Source, out []int32) {
	cols := make([][]int32, len(lms))
	for i, lm := range lms {
		cols[i] = make([]int32, len(v.rows))
		v.Column(lm, p, accept, cols[i])
	}
	WeightedMean(cols, weights, out)
}

// MeanRTT is one row's weighted mean effective RTT (us) to the landmarks,
// each as Column reads it under accept, rounded down as WeightedRTT rounds
// it; false when one is unknown or the weights sum to nothing.
func (v View) MeanRTT(row int32, lms []int32, weights []int64, p Percentile, accept Source) (int32, bool) {
	var sum, total int64
	for i, lm := range lms {
		rtt, known := v.EffectiveRTT(row, lm, p, accept)
		if !known {
			return 0, false
		}
		sum += int64(rtt) * weights[i]
		total += weights[i]
	}
	if total <= 0 {
		return 0, false
	}
	return int32(sum / total), true
}

// WeightedMean writes to out[row] the weighted mean of the columns' values
// at row, rounded down, or -1 where any value is negative (unknown).
func WeightedMean(cols [][]int32, weights []int64, out []int32) {
	var total int64
	for _, w := range weights {
		total += w
	}
	if len(cols) == 0 || total <= 0 {
		for r := range out {
			out[r] = -1
		}
		return
	}
	div := newDivider(total)
	switch len(cols) {
	case 1:
		copy(out, cols[0]) // Column's values are -1 or at least 0
		return
	case 2:
		// Most pods name one or two landmarks: one fused pass.
		a, b, wa, wb := cols[0][:len(out)], cols[1][:len(out)], weights[0], weights[1]
		for r := range out {
			x, y := a[r], b[r]
			unknown := (x | y) >> 31
			out[r] = int32(div.div(max(int64(x)*wa+int64(y)*wb, 0)))&^unknown | unknown
		}
		return
	}
	const block = 256
	var sum [block]int64
	var sign [block]int32
	for base := 0; base < len(out); base += block {
		dst := out[base:min(base+block, len(out))]
		acc, neg := sum[:len(dst)], sign[:len(dst)]
		clear(acc)
		clear(neg)
		for i, col := range cols {
			src, w := col[base:base+len(dst)], weights[i]
			for r, x := range src {
				acc[r] += int64(x) * w
				neg[r] |= x
			}
		}
		for r := range dst {
			// -1 where any value was negative, without a branch.
			unknown := neg[r] >> 31
			dst[r] = int32(div.div(max(acc[r], 0)))&^unknown | unknown
		}
	}
}

// divider divides non-negative sums of weighted RTTs by a fixed total,
// rounding down as integer division does, without its cost per row: by a
// float reciprocal where that is exact, else by dividing.
type divider struct {
	total, fastBelow int64
	inv              float64
}

func newDivider(total int64) divider {
	// For a quotient below 2^26 (every RTT the schema admits) and a sum
	// below 2^53 (held exactly by a float64), the product with the
	// reciprocal is within 2^-26 of the true quotient. A nudge of 2^-25
	// then rounds whole quotients to themselves and lifts no other past
	// the next integer, since totals below 2^22 keep every fractional part
	// at least 2^-22 away from it.
	d := divider{total: total, inv: 1 / float64(total)}
	if total < 1<<22 {
		d.fastBelow = total << 26
	}
	return d
}

func (d divider) div(sum int64) int64 {
	if sum < 0 || sum >= d.fastBelow {
		return sum / d.total
	}
	return int64(float64(sum)*d.inv + 1.0/(1<<25))
}

// Nearest returns up to n rows, nearest first as far as the index tells (by
// bucket), that some node resolves to and that have a fresh measurement to
// the landmark.
func (v View) Nearest(landmark int32, p Percentile, n int) []int32 {
	var out []int32
	ix := v.index[landmark][p]
	for b := range bucketLow {
		for _, r := range ix.bucket(b) {
			if len(v.rows[r].nodes) == 0 {
				continue
			}
			if _, fresh := v.RTT(r, landmark, p); fresh {
				out = append(out, r)
			}
		}
		if len(out) >= n {
			return out[:n]
		}
	}
	return out
}

// RowObject is a row's key: the NodeNetwork behind it, "" for a free row,
// or a key of the map's own for a node without one (IsObjectName tells).
func (v View) RowObject(row int32) string {
	if int(row) >= len(v.rows) {
		return ""
	}
	return v.rows[row].object
}

// Billing returns a node's egress facts for billing, with one index lookup:
// its NodeNetwork's capacity (-1 when unknown) and billing zone, the zone
// overridden by the node's own billing-zone label. known is false for a
// node the map has not seen.
func (v View) Billing(node string) (e Egress, known bool) {
	ref, ok := v.Node(node)
	if !ok {
		return Egress{CapacityMbps: -1}, false
	}
	return v.BillingAt(ref), true
}

// BillingAt is Billing for a node already looked up.
func (v View) BillingAt(ref NodeRef) Egress {
	e := Egress{CapacityMbps: -1}
	if ref.Row >= 0 && v.egress[ref.Row] != (Egress{}) {
		e = v.egress[ref.Row]
	}
	if zone := v.locations[ref.Location].BillingZone; zone != "" {
		e.BillingZone = zone
	}
	return e
}

// RowNodes returns the nodes whose measurements a row holds; the caller must
// not modify the slice.
func (v View) RowNodes(row int32) []string { return v.rows[row].nodes }

// RowLocations returns the location IDs of a row's nodes, in RowNodes'
// order (-1: unknown).
func (v View) RowLocations(row int32) []int32 {
	if int(row)+1 >= len(v.rowLocationsAt) {
		return nil
	}
	return v.rowLocations[v.rowLocationsAt[row]:v.rowLocationsAt[row+1]]
}

// Describe names a row for people: "node edge-hz-3" or "site cn-hangzhou-telecom".
func (v View) Describe(row int32) string {
	info := v.rows[row]
	if info.site != "" {
		return "site " + info.site
	}
	if node, virtual := virtualNode(info.object); virtual {
		return "node " + node
	}
	return "node " + info.object
}

// Best returns the row with the lowest fresh RTT to a landmark among rows
// that some node resolves to.
func (v View) Best(landmark int32, p Percentile) (row int32, us int32, ok bool) {
	ix := v.index[landmark][p]
	for b := range bucketLow {
		for _, r := range ix.bucket(b) {
			if len(v.rows[r].nodes) == 0 {
				continue
			}
			if rtt, fresh := v.RTT(r, landmark, p); fresh && (!ok || rtt < us) {
				row, us, ok = r, rtt, true
			}
		}
		if ok {
			return row, us, true
		}
	}
	return 0, 0, false
}

// Candidates are the nodes within an SLO, by row.
type Candidates struct {
	snap  *Snapshot
	rows  []uint64 // bitset over rows
	list  []int32  // the same rows, as found
	nodes int
}

// HasRow says whether the nodes of a row are candidates.
func (c Candidates) HasRow(row int32) bool {
	w := int(row / 64)
	return w < len(c.rows) && c.rows[w]&(1<<(row%64)) != 0
}

// Len is the number of candidate nodes.
func (c Candidates) Len() int { return c.nodes }

// Names returns the candidate nodes' names, in a set made on each call.
func (c Candidates) Names() sets.Set[string] {
	out := make(sets.Set[string], c.nodes)
	for _, r := range c.list {
		out.Insert(c.snap.rows[r].nodes...)
	}
	return out
}

// NodesWithin returns the nodes whose RTT to every landmark in lms is at
// most bound, measured fresh or estimated from an accepted source. The work
// is proportional to the rows in the buckets below the bound of the most
// selective landmark (plus its estimated entries), not to the cluster.
func (v View) NodesWithin(lms []int32, p Percentile, bound int32, accept Source) Candidates {
	if len(lms) == 0 {
		return Candidates{snap: v.Snapshot}
	}
	last := bucketOf(bound)
	driver, driverRows := lms[0], math.MaxInt
	for _, lm := range lms {
		n := 0
		for b := 0; b <= last; b++ {
			n += len(v.index[lm][p].bucket(b))
		}
		if n < driverRows {
			driver, driverRows = lm, n
		}
	}
	var within []int32
	nodes := 0
	qualifies := func(r int32) bool {
		for _, lm := range lms {
			if rtt, _, ok := v.Value(r, lm, p, accept); !ok || rtt > bound {
				return false
			}
		}
		return true
	}
	for b := 0; b <= last; b++ {
		for _, r := range v.index[driver][p].bucket(b) {
			if qualifies(r) {
				within = append(within, r)
				nodes += len(v.rows[r].nodes)
			}
		}
	}
	if v.est != nil && accept != 0 && int(driver) < len(v.est.landmarks) {
		seen := map[int32]bool{}
		for _, r := range within {
			seen[r] = true
		}
		for _, e := range v.est.within[driver][p] {
			if e.rtt > bound {
				break
			}
			if e.source&accept == 0 || seen[e.row] || len(v.rows) <= int(e.row) || !qualifies(e.row) {
				continue
			}
			seen[e.row] = true
			within = append(within, e.row)
			nodes += len(v.rows[e.row].nodes)
		}
	}
	out := Candidates{snap: v.Snapshot, rows: make([]uint64, (len(v.rows)+63)/64), list: within, nodes: nodes}
	for _, r := range within {
		out.rows[r/64] |= 1 << (r % 64)
	}
	return out
}

// Value returns the fresh measurement of (row, landmark) or, failing that,
// an estimate from an accepted source.
func (v View) Value(row, landmark int32, p Percentile, accept Source) (int32, Source, bool) {
	if rtt, fresh := v.RTT(row, landmark, p); fresh {
		return rtt, Measured, true
	}
	return v.estimated(row, landmark, p, accept)
}

// EffectiveRTT is one entry as Column reads it: the fresh measurement
// penalised by its loss, else an accepted estimate.
func (v View) EffectiveRTT(row, landmark int32, p Percentile, accept Source) (int32, bool) {
	if e := v.table.at(row, landmark); e.observed >= v.freshSince {
		return e.effective(p), true
	}
	rtt, _, ok := v.estimated(row, landmark, p, accept)
	return rtt, ok
}

func (v View) estimated(row, landmark int32, p Percentile, accept Source) (int32, Source, bool) {
	e := v.est
	if accept == 0 || e == nil || int(row) >= len(e.objects) || int(landmark) >= len(e.landmarks) ||
		e.objects[row] != v.rows[row].object {
		return 0, 0, false
	}
	if x := e.at(row, landmark); x.source&accept != 0 {
		return x.rtt[p], x.source, true
	}
	return 0, 0, false
}

// RowLocation returns where a row's nodes are: the location of its first
// node, with the row's own site for a site-scoped object. False for a row
// that no node resolves to.
func (v View) RowLocation(row int32) (topology.Location, bool) {
	if int(row) >= len(v.rows) || v.rows[row].object == "" || len(v.rows[row].nodes) == 0 {
		return topology.Location{}, false
	}
	loc := topology.Location{}
	if ref, ok := v.Node(v.rows[row].nodes[0]); ok {
		loc = v.locations[ref.Location]
	}
	loc.Site = cmp.Or(v.rows[row].site, loc.Site)
	return loc, true
}
