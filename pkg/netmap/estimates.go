package netmap

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Source says where an RTT value comes from; a set of them says which a
// reader accepts.
type Source uint8

const (
	// Measured: a fresh measurement of the row itself.
	Measured Source = 1 << iota
	// PeerEstimate: the median of fresh measurements of nodes in the same
	// site, or else of the same city and carrier.
	PeerEstimate
	// CoordinateEstimate: predicted by network coordinates (Vivaldi) fitted
	// on every fresh measurement.
	CoordinateEstimate

	// AnyEstimate accepts both kinds of estimate.
	AnyEstimate = PeerEstimate | CoordinateEstimate
)

func (s Source) String() string {
	var parts []string
	for _, k := range []struct {
		s    Source
		name string
	}{{Measured, "measured"}, {PeerEstimate, "peer-estimated"}, {CoordinateEstimate, "coordinate-estimated"}} {
		if s&k.s != 0 {
			parts = append(parts, k.name)
		}
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, "|")
}

// estimates fill in the entries that were missing or stale when they were
// made. They are made off the hot path (Map.estimate) and published with a
// snapshot; readers prefer a fresh measurement whenever there is one.
type estimates struct {
	made    time.Time
	objects []string // per row: the row's key when the estimates were made
	width   int
	chunks  [][]estEntry               // per 64-row chunk, landmark-major like the table
	within  [][numPercentiles][]estRow // per landmark: estimated rows by RTT
}

type estEntry struct {
	rtt    [numPercentiles]int32
	source Source
}

type estRow struct {
	row    int32
	rtt    int32
	source Source
}

func (e *estimates) at(row, lm int32) *estEntry {
	return &e.chunks[row/chunkRows][int(lm)*chunkRows+int(row%chunkRows)]
}

// Value returns the fresh measurement of (row, landmark) or, failing that,
// an estimate from an accepted source.
func (v View) Value(row, landmark int32, p Percentile, accept Source) (int32, Source, bool) {
	if rtt, fresh := v.RTT(row, landmark, p); fresh {
		return rtt, Measured, true
	}
	return v.estimated(row, landmark, p, accept)
}

func (v View) estimated(row, landmark int32, p Percentile, accept Source) (int32, Source, bool) {
	e := v.est
	if accept == 0 || e == nil || int(row) >= len(e.objects) || int(landmark) >= e.width ||
		e.objects[row] != v.rows[row].object {
		return 0, 0, false
	}
	if x := e.at(row, landmark); x.source&accept != 0 {
		return x.rtt[p], x.source, true
	}
	return 0, 0, false
}

// Estimated reports when the snapshot's estimates were made (zero: none).
func (s *Snapshot) Estimated() time.Time {
	if s.est == nil {
		return time.Time{}
	}
	return s.est.made
}

// Parameters of the estimator.
const (
	// minObservations is how many fresh measurements a host needs in a run
	// for its coordinate to predict: fewer leave a 4-D point undetermined.
	minObservations = 3
	// firstFitPasses is how hard a new coordinate space is fitted; later
	// runs add one pass of the current measurements (incremental).
	firstFitPasses = 30
)

// estimator keeps the coordinate space between runs.
type estimator struct {
	space    *estimate.Space
	hosts    map[string]int // row key or "\x01" + landmark -> host
	observed []int          // per host: fresh measurements in the last run
}

// estimate makes estimates for every entry of s that is missing or stale at
// now: site peers first, then city and carrier peers, then coordinates.
func (m *Map) estimate(s *Snapshot, now time.Time, ttl time.Duration) *estimates {
	view := s.View(now, ttl)
	rows, width := len(s.rows), len(s.landmarks)
	e := &estimates{made: now, objects: make([]string, rows), width: width,
		chunks: make([][]estEntry, len(s.table.chunks)), within: make([][numPercentiles][]estRow, width)}
	for c := range e.chunks {
		e.chunks[c] = make([]estEntry, chunkRows*width)
	}
	// Where each row is: its site and its city/carrier.
	siteOf := make([]string, rows)
	cityOf := make([]string, rows)
	for r := range s.rows {
		info := &s.rows[r]
		e.objects[r] = info.object
		if info.object == "" || len(info.nodes) == 0 {
			continue
		}
		loc := m.nodes[info.nodes[0]]
		siteOf[r] = cmp.Or(info.site, loc.Site)
		if loc.City != "" && loc.Carrier != "" && loc.Carrier != topology.Multi {
			cityOf[r] = loc.City + "/" + loc.Carrier
		}
	}
	m.fitCoordinates(view)
	ratio := p90Ratio(view)
	for lm := range int32(width) {
		bySite := map[string][numPercentiles][]float64{}
		byCity := map[string][numPercentiles][]float64{}
		for r := range int32(rows) {
			for p := range numPercentiles {
				if rtt, fresh := view.RTT(r, lm, p); fresh {
					if k := siteOf[r]; k != "" {
						v := bySite[k]
						v[p] = append(v[p], float64(rtt))
						bySite[k] = v
					}
					if k := cityOf[r]; k != "" {
						v := byCity[k]
						v[p] = append(v[p], float64(rtt))
						byCity[k] = v
					}
				}
			}
		}
		for r := range int32(rows) {
			if s.rows[r].object == "" || len(s.rows[r].nodes) == 0 {
				continue
			}
			if _, fresh := view.RTT(r, lm, P50); fresh {
				continue
			}
			x := e.at(r, lm)
			if m.fromPeers(x, bySite[siteOf[r]]) || m.fromPeers(x, byCity[cityOf[r]]) {
				x.source = PeerEstimate
			} else if m.fromCoordinates(x, s.rows[r].object, s.landmarks[lm], ratio) {
				x.source = CoordinateEstimate
			}
			if x.source != 0 {
				for p := range numPercentiles {
					e.within[lm][p] = append(e.within[lm][p], estRow{row: r, rtt: x.rtt[p], source: x.source})
				}
			}
		}
		for p := range numPercentiles {
			slices.SortFunc(e.within[lm][p], func(a, b estRow) int { return cmp.Compare(a.rtt, b.rtt) })
		}
	}
	return e
}

func (m *Map) fromPeers(x *estEntry, values [numPercentiles][]float64) bool {
	for p := range numPercentiles {
		med, ok := estimate.Median(values[p])
		if !ok {
			return false
		}
		x.rtt[p] = int32(med)
	}
	return true
}

func (m *Map) fromCoordinates(x *estEntry, rowKey, landmark string, p90Ratio float64) bool {
	est := m.est
	if est == nil {
		return false
	}
	a, okA := est.hosts[rowKey]
	b, okB := est.hosts["\x01"+landmark]
	if !okA || !okB || est.observed[a] < minObservations || est.observed[b] < minObservations {
		return false
	}
	ms := est.space.Predict(a, b)
	x.rtt[P50] = clampRTT(int64(ms * 1000))
	x.rtt[P90] = clampRTT(int64(ms * 1000 * p90Ratio))
	return true
}

// fitCoordinates feeds every fresh p50 measurement to the coordinate space:
// many passes the first time, one pass (an incremental update) afterwards.
func (m *Map) fitCoordinates(view View) {
	first := m.est == nil
	if first {
		m.est = &estimator{space: estimate.NewSpace(0, 1), hosts: map[string]int{}}
	}
	est := m.est
	host := func(key string) int {
		if h, ok := est.hosts[key]; ok {
			return h
		}
		h := len(est.observed)
		est.hosts[key] = h
		est.observed = append(est.observed, 0)
		est.space.Grow(h + 1)
		return h
	}
	clear(est.observed)
	var samples []estimate.Sample
	for r := range view.rows {
		key := view.rows[r].object
		if key == "" {
			continue
		}
		for lm, name := range view.landmarks {
			if rtt, fresh := view.RTT(int32(r), int32(lm), P50); fresh && rtt > 0 {
				a, b := host(key), host("\x01"+name)
				est.observed[a]++
				est.observed[b]++
				samples = append(samples, estimate.Sample{I: a, J: b, RTT: float64(rtt) / 1000})
			}
		}
	}
	passes := 1
	if first {
		passes = firstFitPasses
	}
	est.space.Fit(samples, passes)
}

// p90Ratio is the median ratio of p90 to p50 over fresh measurements, to
// turn a coordinate (fitted on medians) into a p90 estimate.
func p90Ratio(view View) float64 {
	var ratios []float64
	for r := range view.rows {
		for lm := range view.landmarks {
			p50, fresh := view.RTT(int32(r), int32(lm), P50)
			p90, _ := view.RTT(int32(r), int32(lm), P90)
			if fresh && p50 > 0 {
				ratios = append(ratios, float64(p90)/float64(p50))
			}
			if len(ratios) >= 10_000 {
				break
			}
		}
	}
	if med, ok := estimate.Median(ratios); ok {
		return med
	}
	return 1.15
}
