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
// names the implausibly better ones. The map then does not trust them: a
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

// Suspect is a measurement the map does not trust.
type Suspect struct {
	// P50 and P90 are the published RTT, in microseconds.
	P50, P90 int32
	// PeersMin is the lowest of the peers' medians it was held to, and
	// Floor the RTT from which it would be trusted (SuspectBelow).
	PeersMin, Floor int32
}

// SuspectEntry names a suspect measurement.
type SuspectEntry struct {
	Object, Landmark string
	Suspect
}

type suspectKey struct{ row, lm int32 }

// estSuspect is an estimation pass's verdict on one entry.
type estSuspect struct {
	object, landmark string
	floor            suspectFloor
}

// suspectFloor is what later writes of an entry are held to.
type suspectFloor struct{ peersMin, floor int32 }

// Suspect records that the row's measurement to the landmark is
// implausibly better than its peers': their lowest median is peersMin and
// the entry would be trusted from floor (us).
func (b *Estimates) Suspect(row, landmark, peersMin, floor int32) {
	b.est.suspects = append(b.est.suspects, estSuspect{object: b.est.objects[row], landmark: b.est.landmarks[landmark],
		floor: suspectFloor{peersMin: peersMin, floor: floor}})
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
	m.floors = map[string]map[string]suspectFloor{}
	for _, v := range verdicts {
		if m.floors[v.object] == nil {
			m.floors[v.object] = map[string]suspectFloor{}
		}
		m.floors[v.object][v.landmark] = v.floor
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
			if e.observed == 0 || e.rtt[P50] >= f.floor {
				continue
			}
			own(s, row, owned)
			e = s.table.at(row, lm)
			edit.set(row, lm, Suspect{P50: e.rtt[P50], P90: e.rtt[P90], PeersMin: f.peersMin, Floor: f.floor})
			for p := range numPercentiles {
				changes[lm][p].move(row, bucketOf(e.rtt[p]), -1)
			}
			*e = entry{}
		}
	}
}
