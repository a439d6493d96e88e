package estimate

import (
	"context"
	"math"
	"time"

	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Parameters of the map estimator.
const (
	// minObservations is how many fresh measurements a host needs in a run
	// for its coordinate to predict: fewer leave a 4-D point undetermined.
	minObservations = 3
	// firstFitBudget bounds the observations of a large map's first fit,
	// per coordinate space, for Params.Passes above minFirstFitPasses: a
	// node there has tens of landmarks, so each pass moves it many times.
	// At the shipped 30 passes it never binds (100,000 nodes x 64
	// landmarks took 19.5 s, bench/README).
	firstFitBudget    = 20_000_000
	minFirstFitPasses = 30
	// maxRTT is the largest RTT, in microseconds, the NodeNetwork schema
	// allows; estimates stay inside it too.
	maxRTT = 60_000_000
	// defaultP90Ratio turns a median into a p90 when no measurement says how.
	defaultP90Ratio = 1.15
)

// MapEstimator fills the missing and stale entries of a network map, from
// the fallbacks of Params.Fallbacks in their order: site peers, city and
// carrier peers, the reverse direction (what nodes in the landmark's city
// measured to users in the node's city), for a node in the landmark's own
// city the typical RTT between co-located nodes and landmarks, and network
// coordinates fitted on every fresh measurement, capped by the shortest
// measured path through a third place (triangle.go). Coordinates cannot
// represent "same place": a triangle-inequality fit puts a node and the
// users next door tens of milliseconds apart. It keeps its coordinate
// spaces between runs, so it belongs to one map and one goroutine.
type MapEstimator struct {
	params    Params
	fallbacks []fallback     // params.Fallbacks, parsed
	spaces    []*Space       // Params.Fits of them, fitted apart
	hosts     map[string]int // row key or "\x01" + landmark -> host
	observed  []int          // per host: fresh measurements in the last run
}

// NewMapEstimator returns an estimator with no coordinates yet, with the
// default parameters.
func NewMapEstimator() *MapEstimator {
	e, err := NewMapEstimatorWith(DefaultParams())
	if err != nil {
		panic(err) // the defaults are valid: TestParams
	}
	return e
}

// NewMapEstimatorWith returns an estimator with the given parameters, or
// the error Params.Validate finds in them.
func NewMapEstimatorWith(p Params) (*MapEstimator, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	fallbacks, err := parseFallbacks(p.Fallbacks)
	if err != nil {
		return nil, err
	}
	return &MapEstimator{params: p, fallbacks: fallbacks}, nil
}

// Estimate makes estimates for every entry of s that is missing or stale at
// now, for Map.PublishEstimates. It gives up, returning nil, when ctx ends.
func (e *MapEstimator) Estimate(ctx context.Context, s *netmap.Snapshot, now time.Time, ttl time.Duration) *netmap.Estimates {
	view := s.View(now, ttl)
	rows, width := int32(view.NumRows()), int32(view.NumLandmarks())
	out := netmap.NewEstimates(s, now)
	siteOf := make([]string, rows)
	cityOf := make([]string, rows)
	located := make([]bool, rows) // false: no node resolves to the row
	for r := range rows {
		loc, ok := view.RowLocation(r)
		if !ok {
			continue
		}
		located[r] = true
		siteOf[r] = loc.Site
		if loc.City != "" && loc.Carrier != "" && loc.Carrier != topology.Multi {
			cityOf[r] = loc.City + "/" + loc.Carrier
		}
	}
	if !e.fit(ctx, view) {
		return nil
	}
	ratio := p90Ratio(view)
	near := colocation(view)
	n50, n90, hasNearby := fromPeers(near.measured(view))
	tri := newTriangle(view, near)
	bySite, byCity := newPeerGroups(siteOf), newPeerGroups(cityOf)
	doubt := 1 + e.params.Margin
	inflate := func(us int32) int32 { return int32(min(math.Round(float64(us)*doubt), maxRTT)) }
	set := func(r, lm, p50, p90 int32, src netmap.Source) {
		if doubt != 1 {
			p50, p90 = inflate(p50), inflate(p90)
		}
		out.Set(r, lm, p50, p90, src)
	}
	implausible := newSeparations(view, near).implausible(view, near)
	suspect := make([]bool, rows)
	bySite.skip, byCity.skip = suspect, suspect
	for lm := range width {
		bySite.reset()
		byCity.reset()
		judge(view, lm, bySite, byCity, implausible, suspect, out)
		for r := range rows {
			if !located[r] {
				continue
			}
			if _, fresh := view.RTT(r, lm, netmap.P50); fresh && !suspect[r] {
				continue
			}
			for _, f := range e.fallbacks {
				var p50, p90 int32
				ok, src := false, netmap.PeerEstimate
				switch f {
				case fromSite:
					p50, p90, ok = bySite.median(view, r, lm)
				case fromCity:
					p50, p90, ok = byCity.median(view, r, lm)
				case fromReverse:
					p50, p90, ok = fromPeers(near.reverse(view, r, lm))
				case fromColocated:
					p50, p90, ok = n50, n90, hasNearby && near.together(r, lm)
				case fromCoordinates:
					var ms float64
					if ms, ok = e.predict(view.RowObject(r), view.LandmarkName(lm)); ok {
						p50 = tri.bound(view, r, lm, clampMicros(ms))
						p90, src = clampMicros(float64(p50)/1000*ratio), netmap.CoordinateEstimate
					}
				}
				if ok {
					set(r, lm, p50, p90, src)
					break
				}
			}
		}
	}
	return out
}

// judge marks, in suspect, the rows whose measurement to lm (fresh, or
// held as suspect by the map) is implausibly better than every fresh one
// of at least minPeers site peers, or else city and carrier peers
// (netmap.SuspectBelow), or that implausible (the triangle check) holds,
// and records them in out. A suspect entry is not anyone's peer, and is
// estimated from its peers like a missing one. Two colluding nodes of a
// site, each the other's lowest peer, pass the peers' check; the
// triangle check is what catches them, and nodes without peers.
func judge(view netmap.View, lm int32, bySite, byCity *peerGroups, implausible map[[2]int32]triangleFinding, suspect []bool, out *netmap.Estimates) {
	clear(suspect)
	for r := range int32(len(suspect)) {
		v, ok := published(view, r, lm)
		if !ok {
			continue
		}
		for _, g := range []*peerGroups{bySite, byCity} {
			peersMin, peers := g.lowestOthers(view, r, lm)
			if peers < minPeers {
				continue
			}
			if floor := netmap.SuspectBelow(peersMin, g == bySite); v < floor {
				suspect[r] = true
				out.Suspect(r, lm, peersMin, floor)
			}
			break
		}
		if f, found := implausible[[2]int32{r, lm}]; found && !suspect[r] {
			suspect[r] = true
			out.SuspectTriangle(r, lm, f.via, f.viaRTT, f.separation, f.floor)
		}
	}
}

// published is the row's measurement to lm as published: fresh, or held
// as suspect by the map.
func published(view netmap.View, r, lm int32) (int32, bool) {
	if rtt, fresh := view.RTT(r, lm, netmap.P50); fresh {
		return rtt, true
	}
	if sus, held := view.Suspect(r, lm); held {
		return sus.P50, true
	}
	return 0, false
}

// minPeers is how many peers must vouch against a measurement: one could
// be the odd one out itself.
const minPeers = 2

// peerGroups are rows that share a key (a site, or a city and carrier),
// with the median of what each group measured to one landmark, worked out
// the first time a row of the group needs it.
type peerGroups struct {
	of      []int32   // per row: its group, or -1
	rows    [][]int32 // per group
	medians []peerMedian
	buf     [2][]float64
	// skip marks rows whose entries are not peers' (suspect ones).
	skip   []bool
	lowest []lowestTwo
}

// lowestOthers returns the lowest fresh median that row r's group, r left
// out, measured to lm, and how many measured it.
func (g *peerGroups) lowestOthers(view netmap.View, r, lm int32) (int32, int) {
	id := g.of[r]
	if id < 0 {
		return 0, 0
	}
	lo := &g.lowest[id]
	if !lo.known {
		*lo = lowestTwo{known: true, row: -1}
		for _, peer := range g.rows[id] {
			if rtt, fresh := view.RTT(peer, lm, netmap.P50); fresh {
				lo.add(rtt, peer)
			}
		}
	}
	_, fresh := view.RTT(r, lm, netmap.P50)
	return lo.without(r, fresh)
}

// lowestTwo are the two lowest of a group's values (fresh medians of its
// rows to one landmark, say), the row of the lowest, and how many.
type lowestTwo struct {
	first, second int32
	row           int32
	n             int
	known         bool
}

func (lo *lowestTwo) add(v, row int32) {
	switch {
	case lo.n == 0 || v < lo.first:
		lo.second, lo.first, lo.row = lo.first, v, row
	case lo.n == 1 || v < lo.second:
		lo.second = v
	}
	lo.n++
}

// without returns the lowest value with row r left out, and how many are
// left; member says whether r's value is among them.
func (lo *lowestTwo) without(r int32, member bool) (int32, int) {
	switch {
	case !member:
		return lo.first, lo.n
	case r == lo.row:
		return lo.second, lo.n - 1
	}
	return lo.first, lo.n - 1
}

type peerMedian struct {
	p50, p90  int32
	ok, known bool
}

func newPeerGroups(keyOf []string) *peerGroups {
	g := &peerGroups{of: make([]int32, len(keyOf))}
	ids := map[string]int32{}
	for r, k := range keyOf {
		g.of[r] = -1
		if k == "" {
			continue
		}
		id, seen := ids[k]
		if !seen {
			id = int32(len(g.rows))
			ids[k] = id
			g.rows = append(g.rows, nil)
		}
		g.of[r] = id
		g.rows[id] = append(g.rows[id], int32(r))
	}
	g.medians = make([]peerMedian, len(g.rows))
	g.lowest = make([]lowestTwo, len(g.rows))
	return g
}

// reset forgets the medians, for the next landmark.
func (g *peerGroups) reset() {
	clear(g.medians)
	clear(g.lowest)
}

// median is what row r's group measured to landmark lm (fresh entries only).
func (g *peerGroups) median(view netmap.View, r, lm int32) (p50, p90 int32, ok bool) {
	id := g.of[r]
	if id < 0 {
		return 0, 0, false
	}
	m := &g.medians[id]
	if !m.known {
		for i, p := range []netmap.Percentile{netmap.P50, netmap.P90} {
			g.buf[i] = g.buf[i][:0]
			for _, peer := range g.rows[id] {
				if g.skip != nil && g.skip[peer] {
					continue
				}
				if rtt, fresh := view.RTT(peer, lm, p); fresh {
					g.buf[i] = append(g.buf[i], float64(rtt))
				}
			}
		}
		m.p50, m.p90, m.ok = fromPeers(g.buf)
		m.known = true
	}
	return m.p50, m.p90, m.ok
}

// fromPeers is the median of what peers measured, at p50 and p90.
func fromPeers(values [2][]float64) (p50, p90 int32, ok bool) {
	m50, ok50 := Median(values[0])
	m90, ok90 := Median(values[1])
	return int32(m50), int32(m90), ok50 && ok90
}

// places says where rows and landmarks are, to tell co-located pairs.
type places struct {
	rowCity, rowCarrier []string
	lmCity, lmCarrier   []string
	rowsIn, lmsIn       map[string][]int32 // by city
}

func colocation(view netmap.View) places {
	p := places{
		rowCity: make([]string, view.NumRows()), rowCarrier: make([]string, view.NumRows()),
		lmCity: make([]string, view.NumLandmarks()), lmCarrier: make([]string, view.NumLandmarks()),
	}
	p.rowsIn, p.lmsIn = map[string][]int32{}, map[string][]int32{}
	for r := range int32(view.NumRows()) {
		if loc, ok := view.RowLocation(r); ok && loc.City != "" {
			p.rowCity[r], p.rowCarrier[r] = loc.City, loc.Carrier
			p.rowsIn[loc.City] = append(p.rowsIn[loc.City], r)
		}
	}
	for lm := range int32(view.NumLandmarks()) {
		if where := view.LandmarkLocation(lm); where.City != "" {
			p.lmCity[lm], p.lmCarrier[lm] = where.City, where.Carrier
			p.lmsIn[where.City] = append(p.lmsIn[where.City], lm)
		}
	}
	return p
}

// together says whether a row and a landmark are in the same city, on the
// same carrier where both name one.
func (p places) together(r, lm int32) bool {
	if p.rowCity[r] == "" || p.rowCity[r] != p.lmCity[lm] {
		return false
	}
	a, b := p.rowCarrier[r], p.lmCarrier[lm]
	return a == "" || b == "" || a == b || a == topology.Multi
}

// reverse is what the other direction measured: from nodes in the
// landmark's city (and carrier) to landmarks in the row's city (and
// carrier). Paths between two cities are close to symmetric.
func (p places) reverse(view netmap.View, r, lm int32) [2][]float64 {
	var out [2][]float64
	if p.rowCity[r] == "" || p.lmCity[lm] == "" {
		return out
	}
	for _, r2 := range p.rowsIn[p.lmCity[lm]] {
		if r2 == r || !p.together(r2, lm) {
			continue
		}
		for _, lm2 := range p.lmsIn[p.rowCity[r]] {
			if lm2 == lm || !p.together(r, lm2) {
				continue
			}
			for i, pct := range []netmap.Percentile{netmap.P50, netmap.P90} {
				if rtt, fresh := view.RTT(r2, lm2, pct); fresh {
					out[i] = append(out[i], float64(rtt))
				}
			}
		}
	}
	return out
}

// measured is every fresh co-located measurement, at p50 and p90.
func (p places) measured(view netmap.View) [2][]float64 {
	var out [2][]float64
	for r := range int32(view.NumRows()) {
		if p.rowCity[r] == "" {
			continue
		}
		for lm := range int32(view.NumLandmarks()) {
			if !p.together(r, lm) {
				continue
			}
			for i, pct := range []netmap.Percentile{netmap.P50, netmap.P90} {
				if rtt, fresh := view.RTT(r, lm, pct); fresh {
					out[i] = append(out[i], float64(rtt))
				}
			}
		}
	}
	return out
}

// predict returns the coordinate estimate, in milliseconds, between a row
// and a landmark that were both observed enough in the last fit.
func (e *MapEstimator) predict(rowKey, landmark string) (float64, bool) {
	a, okA := e.hosts[rowKey]
	b, okB := e.hosts["\x01"+landmark]
	if !okA || !okB || e.observed[a] < minObservations || e.observed[b] < minObservations {
		return 0, false
	}
	if len(e.spaces) == 1 {
		return e.spaces[0].Predict(a, b), true
	}
	var predictions [8]float64 // Params.Validate bounds Fits
	for i, sp := range e.spaces {
		predictions[i] = sp.Predict(a, b)
	}
	return Median(predictions[:len(e.spaces)])
}

// fit feeds every fresh p50 measurement to each coordinate space: many
// passes the first time, one pass (an incremental update) afterwards. False
// when ctx ended first.
func (e *MapEstimator) fit(ctx context.Context, view netmap.View) bool {
	// A first fit that ctx cuts short is thrown away, so that no space
	// joins a later median half fitted.
	spaces, first := e.spaces, e.spaces == nil
	if first {
		e.hosts, e.observed = map[string]int{}, nil
		for seed := range uint64(e.params.Fits) {
			spaces = append(spaces, newSpace(0, seed+1, e.params))
		}
	}
	host := func(key string) int {
		if h, ok := e.hosts[key]; ok {
			return h
		}
		h := len(e.observed)
		e.hosts[key] = h
		e.observed = append(e.observed, 0)
		for _, sp := range spaces {
			sp.Grow(h + 1)
		}
		return h
	}
	clear(e.observed)
	var samples []Sample
	lmHost := make([]int, view.NumLandmarks())
	for lm := range lmHost {
		lmHost[lm] = -1 // until its first measurement
	}
	for r := range int32(view.NumRows()) {
		key := view.RowObject(r)
		if key == "" {
			continue
		}
		for lm := range int32(view.NumLandmarks()) {
			if rtt, fresh := view.RTT(r, lm, netmap.P50); fresh && rtt > 0 {
				a := host(key)
				if lmHost[lm] < 0 {
					lmHost[lm] = host("\x01" + view.LandmarkName(lm))
				}
				b := lmHost[lm]
				e.observed[a]++
				e.observed[b]++
				samples = append(samples, Sample{I: a, J: b, RTT: float64(rtt) / 1000})
			}
		}
	}
	passes := 1
	if first {
		passes = e.params.Passes
		if len(samples)*passes > firstFitBudget {
			passes = min(passes, max(minFirstFitPasses, firstFitBudget/len(samples)))
		}
	}
	if first && e.params.ShortFirst && len(samples) > 0 {
		rtts := make([]float64, len(samples))
		for i, m := range samples {
			rtts[i] = m.RTT
		}
		short, _ := Median(rtts)
		for _, sp := range spaces {
			sp.short = short
		}
	}
	for _, sp := range spaces {
		for range passes {
			if ctx.Err() != nil {
				return false
			}
			sp.Fit(samples, 1)
		}
	}
	e.spaces = spaces
	return true
}

// p90Ratio is the median ratio of p90 to p50 over (up to 10,000) fresh
// measurements, to turn a coordinate, fitted on medians, into a p90.
func p90Ratio(view netmap.View) float64 {
	var ratios []float64
	for r := range int32(view.NumRows()) {
		for lm := range int32(view.NumLandmarks()) {
			p50, fresh := view.RTT(r, lm, netmap.P50)
			p90, _ := view.RTT(r, lm, netmap.P90)
			if fresh && p50 > 0 {
				ratios = append(ratios, float64(p90)/float64(p50))
			}
		}
		if len(ratios) >= 10_000 {
			break
		}
	}
	if med, ok := Median(ratios); ok {
		return med
	}
	return defaultP90Ratio
}

func clampMicros(ms float64) int32 {
	return int32(min(max(ms*1000, 0), maxRTT))
}
