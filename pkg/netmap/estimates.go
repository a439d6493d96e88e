package netmap

import (
	"cmp"
	"slices"
	"strings"
	"time"

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
	// landmarks are the snapshot's, by ID: estimates made before the set
	// changed number them differently and are not published.
	landmarks []string
	chunks    [][]estEntry               // per 64-row chunk, landmark-major like the table
	within    [][numPercentiles][]estRow // per landmark: estimated rows by RTT
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
	if accept == 0 || e == nil || int(row) >= len(e.objects) || int(landmark) >= len(e.landmarks) ||
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

// Estimates are estimated entries being made for one snapshot, off the hot
// path; Map.PublishEstimates hands them to readers.
type Estimates struct {
	est *estimates
}

// NewEstimates starts an empty set of estimates for s, made at made.
func NewEstimates(s *Snapshot, made time.Time) *Estimates {
	width := len(s.landmarks)
	e := &estimates{made: made, objects: make([]string, len(s.rows)), landmarks: s.landmarks,
		chunks: make([][]estEntry, len(s.table.chunks)), within: make([][numPercentiles][]estRow, width)}
	for c := range e.chunks {
		e.chunks[c] = make([]estEntry, chunkRows*width)
	}
	for r := range s.rows {
		e.objects[r] = s.rows[r].object
	}
	return &Estimates{est: e}
}

// Set records an estimate of a row's RTT to a landmark, in microseconds.
func (b *Estimates) Set(row, landmark int32, p50, p90 int32, source Source) {
	x := b.est.at(row, landmark)
	x.rtt[P50], x.rtt[P90], x.source = p50, p90, source
	for p := range numPercentiles {
		b.est.within[landmark][p] = append(b.est.within[landmark][p], estRow{row: row, rtt: x.rtt[p], source: source})
	}
}

func (b *Estimates) sort() {
	for lm := range b.est.within {
		for p := range numPercentiles {
			slices.SortFunc(b.est.within[lm][p], func(a, b estRow) int { return cmp.Compare(a.rtt, b.rtt) })
		}
	}
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
