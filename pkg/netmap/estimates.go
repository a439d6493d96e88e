package netmap

import (
	"cmp"
	"slices"
	"strings"
	"time"
) // Source says where an RTT value comes from; a set of them says which a
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
	suspects  []estSuspect               // measurements found implausible against their peers
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
