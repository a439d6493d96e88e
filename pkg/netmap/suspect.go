package netmap

import (
	"cmp"
	"maps"
	"slices"
)

// A node's probe can publish anything its admission policy lets it write
// to its own object: a broken or hostile one that publishes 0.1 ms to
// every landmark would attract every workload. The estimation pass
// (pkg/estimate) compares each measurement with what the row's site peers,
// or else its city and carrier peers, measured to the same landmark, and
// with the triangle bound that other places' nodes give (TriangleBelow),
// and names the implausibly better ones. The map then does not trust them: a
// suspect entry reads as unmeasured (so that an estimate from the peers
// stands in, and SLOs and evictions never rest on it), and each later
// write of the same object is held to the same floor at once, so that the
// entry stays suspect between two estimation passes. The published value
// is kept beside the table for explain and top.

// SuspectBelow is the RTT (us) under which a measurement is implausibly
// better than peers whose lowest median is peersMin: more than 5 ms less,
// and less than half of it for site peers (one building, one uplink), a
// tenth for city and carrier peers (a metro's paths differ more).
func SuspectBelow(peersMin int32, sitePeers bool) int32 {
	share := peersMin / 10
	if sitePeers {
		share = peersMin / 2
	}
	return min(share, peersMin-5000)
}

// TriangleBelow is the RTT (us) to a landmark under which a measurement
// is implausible, when the same row measured via, another landmark, at
// viaRTT and via's place measures the landmark at separation (all us): the
// triangle inequality wants at least separation-viaRTT. Measured paths
// break the inequality (a detour on the direct path), so only less than a
// third of that, and 5 ms more, is suspect; the third (with the share of
// landmarks in pkg/estimate) was chosen on the Seattle testbed's matrix
// and is reported on RIPE Atlas and AWS (cmd/kubectl-edgeplace/evaluate,
// TestTriangleCheckOnMeasuredMatrices).
func TriangleBelow(separation, viaRTT int32) int32 {
	return (separation-viaRTT)/3 - 5000
}

// Suspect is a measurement the map does not trust.
type Suspect struct {
	// P50 and P90 are the published RTT, in microseconds.
	P50, P90 int32
	// PeersMin is the lowest of the peers' medians it was held to (0 when
	// the triangle check found it), and Floor the RTT from which it would
	// be trusted (SuspectBelow, TriangleBelow).
	PeersMin, Floor int32
	// Via, when set, is the landmark the triangle check held it against:
	// the same row measured Via at ViaRTT, and Via's place measures the
	// landmark at Separation (us).
	Via                string
	ViaRTT, Separation int32
}

// with is a verdict (a suspect without its published values) with them.
func (s Suspect) with(p50, p90 int32) Suspect {
	s.P50, s.P90 = p50, p90
	return s
}

// SuspectEntry names a suspect measurement.
type SuspectEntry struct {
	Object, Landmark string
	Suspect
}

type suspectKey struct{ row, lm int32 }

// estSuspect is an estimation pass's verdict on one entry: why, and the
// floor later writes of the entry are held to (P50 and P90 unset).
type estSuspect struct {
	object, landmark string
	verdict          Suspect
}

// Suspect records that the row's measurement to the landmark is
// implausibly better than its peers': their lowest median is peersMin and
// the entry would be trusted from floor (us).
func (b *Estimates) Suspect(row, landmark, peersMin, floor int32) {
	b.suspect(row, landmark, Suspect{PeersMin: peersMin, Floor: floor})
}

// SuspectTriangle records that the row's measurement to the landmark is
// under the triangle bound (TriangleBelow) that its measurement to via
// (viaRTT) and via's separation from the landmark give: it would be trusted
// from floor (us).
func (b *Estimates) SuspectTriangle(row, landmark, via, viaRTT, separation, floor int32) {
	b.suspect(row, landmark, Suspect{Floor: floor, Via: b.est.landmarks[via], ViaRTT: viaRTT, Separation: separation})
}

func (b *Estimates) suspect(row, landmark int32, verdict Suspect) {
	b.est.suspects = append(b.est.suspects, estSuspect{object: b.est.objects[row], landmark: b.est.landmarks[landmark], verdict: verdict})
}

// Suspect returns the published value of a suspect entry: the one the map
// does not trust, and reads as unmeasured.
func (v View) Suspect(row, landmark int32) (Suspect, bool) {
	sus, ok := v.suspect[suspectKey{row, landmark}]
	return sus, ok
}

// Suspects lists the snapshot's suspect measurements, by object and
// landmark.
func (s *Snapshot) Suspects() []SuspectEntry {
	out := make([]SuspectEntry, 0, len(s.suspect))
	for k, sus := range s.suspect {
		out = append(out, SuspectEntry{Object: s.rows[k.row].object, Landmark: s.landmarks[k.lm], Suspect: sus})
	}
	slices.SortFunc(out, func(a, b SuspectEntry) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Landmark, b.Landmark))
	})
	return out
}

// SuspectsVersion changes whenever the snapshot's suspect entries may have:
// a reader of Suspects compares it with the last snapshot's first.
func (s *Snapshot) SuspectsVersion() uint64 { return s.suspectVersion }

// suspectEdit changes a snapshot's suspect entries, copying them first.
type suspectEdit struct {
	s      *Snapshot
	cloned bool
}

func (e *suspectEdit) own() {
	if !e.cloned {
		e.s.suspect, e.cloned = maps.Clone(e.s.suspect), true
		e.s.suspectVersion++
		if e.s.suspect == nil {
			e.s.suspect = map[suspectKey]Suspect{}
		}
	}
}

func (e *suspectEdit) set(row, lm int32, sus Suspect) {
	e.own()
	e.s.suspect[suspectKey{row, lm}] = sus
}

// forgetRow drops the row's suspect entries, before the row is rewritten.
func (e *suspectEdit) forgetRow(row int32) {
	for k := range e.s.suspect {
		if k.row == row {
			e.own()
			delete(e.s.suspect, k)
		}
	}
}

// setFloors replaces the floors with an estimation pass's verdicts.
func (m *Map) setFloors(verdicts []estSuspect) {
	m.floors = map[string]map[string]Suspect{}
	for _, v := range verdicts {
		if m.floors[v.object] == nil {
			m.floors[v.object] = map[string]Suspect{}
		}
		m.floors[v.object][v.landmark] = v.verdict
	}
}

// distrust makes every fresh entry under its object's floor suspect: the
// estimation pass judged entries written before it.
func (m *Map) distrust(s *Snapshot, owned map[int32]bool, changes [][numPercentiles]indexChange, edit *suspectEdit) {
	for object, byLandmark := range m.floors {
		row, ok := m.rowByObject[object]
		if !ok || int(row) >= len(s.rows) || s.rows[row].object != object {
			continue
		}
		for name, f := range byLandmark {
			lm, ok := s.landmarkID[name]
			if !ok {
				continue
			}
			e := s.table.at(row, lm)
			if e.observed == 0 || e.rtt[P50] >= f.Floor {
				continue
			}
			own(s, row, owned)
			e = s.table.at(row, lm)
			edit.set(row, lm, f.with(e.rtt[P50], e.rtt[P90]))
			for p := range numPercentiles {
				changes[lm][p].move(row, bucketOf(e.rtt[p]), -1)
			}
			*e = entry{}
		}
	}
}
