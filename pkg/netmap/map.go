// Package netmap keeps the measured RTT from every node to every landmark in
// memory, as immutable snapshots that the scheduler plugins read without
// locks.
//
// Writers (the informers of pkg/feed, or tests and benchmarks
// directly) record changes; Flush applies everything recorded since the last flush as
// one new snapshot. NodeNetwork updates copy only the 64-row table chunks and
// the index buckets they touch; only a change to the set of landmarks
// rebuilds the whole map.
//
// The package is larger than most here on purpose: the writer (map.go) and
// the readers (snapshot.go) share the unexported layout of the chunked table
// and the bucket index, and keeping them in one package is what lets a
// snapshot stay immutable without copying on every read. Everything that
// only uses the public API lives elsewhere: the API server feed in
// pkg/feed, estimation in pkg/estimate.
package netmap

import (
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Map is the network map. The zero value is not usable; call New.
type Map struct {
	current atomic.Pointer[Snapshot]

	mu        sync.Mutex // guards pending and listeners
	pending   pending
	listeners []func(prev, next *Snapshot)
	kick      chan struct{}

	flushMu     sync.Mutex                   // one flush at a time; guards the fields below
	nodes       map[string]topology.Location // node -> where its labels say it is
	sites       map[string]nameSet           // site -> its nodes
	objects     map[string]*v1alpha1.NodeNetwork
	claims      map[string]nameSet // site -> site-scoped objects naming it
	lmarks      map[string]v1alpha1.Location
	rowByObject map[string]int32
	freeRows    []int32
	seed        maphash.Seed
	// floors are the last estimation pass's suspect verdicts: object ->
	// landmark -> what its entries are held to.
	floors map[string]map[string]Suspect

	estimateTTL atomic.Int64 // nanoseconds; 0: estimation off
}

type nameSet = map[string]struct{}

type pending struct {
	nodes     map[string]*topology.Location    // nil: deleted
	objects   map[string]*v1alpha1.NodeNetwork // nil: deleted
	landmarks map[string]*v1alpha1.Location    // nil: deleted
	state     *State
	estimates *estimates
	profiles  map[string]*v1alpha1.LatencyProfile // namespace/name; nil: deleted
}

func (p *pending) empty() bool {
	return len(p.nodes) == 0 && len(p.objects) == 0 && len(p.landmarks) == 0 && p.state == nil && p.estimates == nil &&
		len(p.profiles) == 0
}

// New returns an empty map in state Unavailable.
func New() *Map {
	m := &Map{
		kick:        make(chan struct{}, 1),
		nodes:       map[string]topology.Location{},
		sites:       map[string]nameSet{},
		objects:     map[string]*v1alpha1.NodeNetwork{},
		claims:      map[string]nameSet{},
		lmarks:      map[string]v1alpha1.Location{},
		rowByObject: map[string]int32{},
		seed:        maphash.MakeSeed(),
	}
	m.current.Store(emptySnapshot())
	return m
}

// Current returns the latest snapshot.
func (m *Map) Current() *Snapshot { return m.current.Load() }

// OnUpdate registers f to run, on the flushing goroutine, after each new
// snapshot is published.
func (m *Map) OnUpdate(f func(prev, next *Snapshot)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners = append(m.listeners, f)
}

// SetNode records a node and its labels, from which the map reads its
// location (pkg/topology) and so its site.
func (m *Map) SetNode(name string, labels map[string]string) {
	loc := topology.FromLabels(labels)
	m.record(func(p *pending) { setKey(&p.nodes, name, &loc) })
}

// DeleteNode records that a node is gone.
func (m *Map) DeleteNode(name string) {
	m.record(func(p *pending) { setKey[*topology.Location](&p.nodes, name, nil) })
}

// SetNodeNetwork records a new or updated NodeNetwork. The map keeps the
// pointer: callers must not modify the object afterwards.
func (m *Map) SetNodeNetwork(nn *v1alpha1.NodeNetwork) {
	m.record(func(p *pending) { setKey(&p.objects, nn.Name, nn) })
}

// DeleteNodeNetwork records that a NodeNetwork is gone.
func (m *Map) DeleteNodeNetwork(name string) {
	m.record(func(p *pending) { setKey[*v1alpha1.NodeNetwork](&p.objects, name, nil) })
}

// SetLandmark records that a landmark exists, with no known location.
func (m *Map) SetLandmark(name string) { m.SetLandmarkAt(name, v1alpha1.Location{}) }

// SetLandmarkAt records a landmark and where its users are.
func (m *Map) SetLandmarkAt(name string, where v1alpha1.Location) {
	m.record(func(p *pending) { setKey(&p.landmarks, name, &where) })
}

// DeleteLandmark records that a landmark is gone.
func (m *Map) DeleteLandmark(name string) {
	m.record(func(p *pending) { setKey[*v1alpha1.Location](&p.landmarks, name, nil) })
}

// EnableEstimation asks whoever runs the map (pkg/feed) to estimate
// missing and stale entries; a measurement older than ttl counts as stale.
func (m *Map) EnableEstimation(ttl time.Duration) { m.estimateTTL.Store(int64(ttl)) }

// EstimationTTL returns the TTL estimation was enabled with (0: off).
func (m *Map) EstimationTTL() time.Duration { return time.Duration(m.estimateTTL.Load()) }

// PublishEstimates records estimates for the next flush.
func (m *Map) PublishEstimates(e *Estimates) {
	if e == nil {
		return
	}
	e.sort()
	m.record(func(p *pending) { p.estimates = e.est })
}

// Changed is signalled after changes are recorded: a loop that flushes on
// it publishes every change.
func (m *Map) Changed() <-chan struct{} { return m.kick }

// SetProfile records a new or updated LatencyProfile.
func (m *Map) SetProfile(lp *v1alpha1.LatencyProfile) {
	m.record(func(p *pending) { setKey(&p.profiles, lp.Namespace+"/"+lp.Name, lp) })
}

// DeleteProfile records that a LatencyProfile is gone.
func (m *Map) DeleteProfile(namespace, name string) {
	m.record(func(p *pending) { setKey[*v1alpha1.LatencyProfile](&p.profiles, namespace+"/"+name, nil) })
}

// SetState records how complete the map is.
func (m *Map) SetState(s State) { m.record(func(p *pending) { p.state = &s }) }

func setKey[V any](mp *map[string]V, k string, v V) {
	if *mp == nil {
		*mp = map[string]V{}
	}
	(*mp)[k] = v
}

func (m *Map) record(f func(*pending)) {
	m.mu.Lock()
	f(&m.pending)
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Flush publishes one snapshot with every change recorded so far. It
// returns the published snapshot (the current one if nothing changed).
func (m *Map) Flush() *Snapshot {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()

	m.mu.Lock()
	p := m.pending
	m.pending = pending{}
	listeners := slices.Clone(m.listeners)
	m.mu.Unlock()

	prev := m.current.Load()
	if p.empty() {
		return prev
	}
	var next *Snapshot
	if setChanged, moved := m.applyLandmarks(p.landmarks); setChanged {
		m.applyNodes(p.nodes, nil)
		m.applyObjects(p.objects, nil)
		next = m.rebuild() // rows renumbered: earlier estimates no longer fit
	} else {
		next = m.update(prev, p)
		if moved {
			next.locateLandmarks(m.lmarks)
		}
		if p.estimates != nil && slices.Equal(p.estimates.landmarks, next.landmarks) {
			// Made from an earlier snapshot: readers check each row's key.
			next.est = p.estimates
		}
	}
	if len(p.profiles) > 0 {
		next.profiles = maps.Clone(prev.profiles)
		if next.profiles == nil {
			next.profiles = map[string]*v1alpha1.LatencyProfile{}
		}
		for key, lp := range p.profiles {
			if lp == nil {
				delete(next.profiles, key)
			} else {
				next.profiles[key] = lp
			}
		}
	} else {
		next.profiles = prev.profiles
	}
	next.generation = prev.generation + 1
	next.state = prev.state
	if p.state != nil {
		next.state = *p.state
	}
	m.current.Store(next)
	for _, f := range listeners {
		f(prev, next)
	}
	return next
}

// applyLandmarks updates the landmarks and says whether the set changed
// (which needs a rebuild) or only where some of them are.
func (m *Map) applyLandmarks(changes map[string]*v1alpha1.Location) (setChanged, moved bool) {
	for name, where := range changes {
		old, had := m.lmarks[name]
		switch {
		case where == nil && had:
			delete(m.lmarks, name)
			setChanged = true
		case where != nil && !had:
			m.lmarks[name] = *where
			setChanged = true
		case where != nil && old != *where:
			m.lmarks[name] = *where
			moved = true
		}
	}
	return setChanged, moved
}

// applyNodes updates the nodes' locations and adds the nodes whose site
// changed to touched.
func (m *Map) applyNodes(changes map[string]*topology.Location, touched nameSet) {
	for name, loc := range changes {
		old, had := m.nodes[name]
		if had {
			delete(m.sites[old.Site], name)
		}
		if loc == nil {
			delete(m.nodes, name)
		} else {
			m.nodes[name] = *loc
			addTo(m.sites, loc.Site, name)
		}
		if touched != nil && (!had || loc == nil || old.Site != loc.Site) {
			touched[name] = struct{}{}
		}
	}
}

// applyObjects updates the stored NodeNetworks and adds the nodes whose row
// may change to touched.
func (m *Map) applyObjects(changes map[string]*v1alpha1.NodeNetwork, touched nameSet) {
	for name, nn := range changes {
		if old, had := m.objects[name]; had {
			if site := siteOf(old); site != "" {
				delete(m.claims[site], name)
				m.touchSite(site, touched)
			}
		}
		if nn == nil {
			delete(m.objects, name)
		} else {
			m.objects[name] = nn
			if site := siteOf(nn); site != "" {
				addTo(m.claims, site, name)
				m.touchSite(site, touched)
			}
		}
		if touched != nil {
			touched[name] = struct{}{}
		}
	}
}

func (m *Map) touchSite(site string, touched nameSet) {
	if touched == nil {
		return
	}
	for n := range m.sites[site] {
		touched[n] = struct{}{}
	}
}

func siteOf(nn *v1alpha1.NodeNetwork) string {
	if nn.Spec.Scope == v1alpha1.ScopeSite {
		return nn.Spec.Site
	}
	return ""
}

func addTo(m map[string]nameSet, key, member string) {
	if m[key] == nil {
		m[key] = nameSet{}
	}
	m[key][member] = struct{}{}
}

// objectFor returns the key of a known node's row: its own NodeNetwork, else
// its site's (the alphabetically first, if several claim the site), else a
// virtual row of its own that has no measurements (estimates may fill it).
func (m *Map) objectFor(node string) (string, bool) {
	if _, known := m.nodes[node]; !known {
		return "", false
	}
	if nn, ok := m.objects[node]; ok && siteOf(nn) == "" {
		return node, true
	}
	site := m.nodes[node].Site
	if site == "" || len(m.claims[site]) == 0 {
		return virtualKey(node), true
	}
	return slices.Min(slices.Collect(maps.Keys(m.claims[site]))), true
}

// virtualKey names the row of a node without any NodeNetwork; object names
// cannot start with a NUL.
func virtualKey(node string) string { return "\x00" + node }

func virtualNode(key string) (string, bool) { return strings.CutPrefix(key, "\x00") }

// IsObjectName says whether a row's key (View.RowObject) names a
// NodeNetwork: not a free row, nor the row of a node that has none.
func IsObjectName(key string) bool { return key != "" && !strings.HasPrefix(key, "\x00") }

// rebuild lays the whole map out again; used when the landmark set changes.
func (m *Map) rebuild() *Snapshot {
	s := emptySnapshot()
	s.landmarks = slices.Sorted(maps.Keys(m.lmarks))
	for i, name := range s.landmarks {
		s.landmarkID[name] = int32(i)
	}
	s.locateLandmarks(m.lmarks)
	m.rowByObject = map[string]int32{}
	m.freeRows = nil
	names := slices.Sorted(maps.Keys(m.objects))
	s.table = newTable(len(s.landmarks), len(names))
	s.rows = make([]rowInfo, len(names))
	s.egress = make([]Egress, len(names))
	changes := make([][numPercentiles]indexChange, len(s.landmarks))
	edit := &suspectEdit{s: s}
	for i, name := range names {
		row := int32(i)
		m.rowByObject[name] = row
		s.rows[row] = rowInfo{object: name, site: siteOf(m.objects[name])}
		s.egress[row] = egressOf(m.objects[name])
		writeRow(s, row, m.objects[name], changes, m.floors[name], edit)
	}
	s.index = make([][numPercentiles]rttIndex, len(s.landmarks))
	for lm := range s.index {
		for p := range numPercentiles {
			s.index[lm][p] = make(rttIndex, numGroups).apply(&changes[lm][p])
		}
	}
	for _, node := range slices.Sorted(maps.Keys(m.nodes)) {
		key, _ := m.objectFor(node)
		row, ok := m.rowByObject[key]
		if !ok {
			row = m.allocRow(s)
			m.rowByObject[key] = row
			s.rows[row].object = key
		}
		s.rowOf[node] = row
		s.rows[row].nodes = append(s.rows[row].nodes, node)
	}
	for i := range s.rows {
		slices.Sort(s.rows[i].nodes)
	}
	s.indexNodes(m.seed, m.nodes)
	return s
}

// update applies node and NodeNetwork changes to a copy of prev that shares
// every chunk, bucket and row it does not touch.
func (m *Map) update(prev *Snapshot, p pending) *Snapshot {
	s := *prev
	s.table.chunks = slices.Clone(prev.table.chunks)
	// Most updates only refresh measurements; the row metadata is copied
	// only when some of it changes.
	rowsOwned := false
	ownRows := func() {
		if !rowsOwned {
			s.rows, s.egress, rowsOwned = slices.Clone(s.rows), slices.Clone(s.egress), true
		}
	}
	touched := nameSet{}
	m.applyNodes(p.nodes, touched)
	m.applyObjects(p.objects, touched)
	if p.estimates != nil {
		m.setFloors(p.estimates.suspects)
	}

	changes := make([][numPercentiles]indexChange, len(s.landmarks))
	owned := map[int32]bool{}
	edit := &suspectEdit{s: &s}
	var freedNow []int32
	for name := range p.objects {
		nn := m.objects[name]
		row, had := m.rowByObject[name]
		switch {
		case nn == nil && !had:
			continue
		case nn == nil:
			own(&s, row, owned)
			writeRow(&s, row, nil, changes, nil, edit)
			ownRows()
			s.rows[row], s.egress[row] = rowInfo{}, Egress{}
			delete(m.rowByObject, name)
			// Reusable from the next flush on: nodes may still point at
			// it until remap has moved them.
			freedNow = append(freedNow, row)
			continue
		case !had:
			ownRows()
			row = m.allocRow(&s)
			m.rowByObject[name] = row
		}
		own(&s, row, owned)
		writeRow(&s, row, nn, changes, m.floors[name], edit)
		if info := s.rows[row]; info.object != name || info.site != siteOf(nn) || s.egress[row] != egressOf(nn) {
			ownRows()
			s.rows[row].object, s.rows[row].site, s.egress[row] = name, siteOf(nn), egressOf(nn)
		}
	}
	if p.estimates != nil {
		m.distrust(&s, owned, changes, edit)
	}
	if len(s.landmarks) > 0 {
		s.index = slices.Clone(prev.index)
		for lm := range s.index {
			for pc := range numPercentiles {
				s.index[lm][pc] = s.index[lm][pc].apply(&changes[lm][pc])
			}
		}
	}
	if m.remap(&s, prev, touched, ownRows) || len(p.nodes) > 0 {
		s.indexNodes(m.seed, m.nodes)
	}
	m.freeRows = append(m.freeRows, freedNow...)
	return &s
}

// allocRow returns a free row, growing the table by a chunk if needed.
func (m *Map) allocRow(s *Snapshot) int32 {
	if n := len(m.freeRows); n > 0 {
		row := m.freeRows[n-1]
		m.freeRows = m.freeRows[:n-1]
		return row
	}
	row := int32(len(s.rows))
	s.rows = append(s.rows, rowInfo{})
	s.egress = append(s.egress, Egress{})
	s.table.grow(len(s.rows))
	return row
}

// own makes the chunk holding row private to s before it is written.
func own(s *Snapshot, row int32, owned map[int32]bool) {
	c := row / chunkRows
	if owned[c] || int(c) >= len(s.table.chunks) {
		return
	}
	owned[c] = true
	old := s.table.chunks[c]
	s.table.chunks[c] = &chunk{entries: slices.Clone(old.entries)}
}

// writeRow replaces a row's entries with nn's measurements (nn nil clears
// the row) and records the index moves; an entry under its floor (by
// landmark, from the last estimation pass) is kept as suspect instead. The caller owns the row's chunk.
func writeRow(s *Snapshot, row int32, nn *v1alpha1.NodeNetwork, changes [][numPercentiles]indexChange,
	floors map[string]Suspect, suspects *suspectEdit) {
	if s.table.width == 0 {
		return
	}
	suspects.forgetRow(row)
	fresh := make([]entry, s.table.width)
	if nn != nil {
		for i := range nn.Status.Landmarks {
			m := &nn.Status.Landmarks[i]
			lm, ok := s.landmarkID[m.Landmark]
			if !ok || !plausible(m) {
				continue
			}
			if f, held := floors[m.Landmark]; held && int32(m.RTTP50Microseconds) < f.Floor {
				suspects.set(row, lm, f.with(int32(m.RTTP50Microseconds), int32(m.RTTP90Microseconds)))
				continue
			}
			e := &fresh[lm]
			e.rtt[P50] = int32(m.RTTP50Microseconds)
			e.rtt[P90] = int32(m.RTTP90Microseconds)
			e.observed = uint32(min(max(m.ObservedTime.Unix(), 1), math.MaxUint32))
			e.loss, e.jitter = lossUnits(m.LossPartsPerMillion), jitterUnits(m.JitterMicroseconds)
		}
	}
	for lm := range fresh {
		cell := s.table.at(row, int32(lm))
		old := *cell
		*cell = fresh[lm]
		for p := range numPercentiles {
			from, to := -1, -1
			if old.observed != 0 {
				from = bucketOf(old.rtt[p])
			}
			if fresh[lm].observed != 0 {
				to = bucketOf(fresh[lm].rtt[p])
			}
			changes[lm][p].move(row, from, to)
		}
	}
}

// remap re-resolves the touched nodes' rows and rebuilds the node lists of
// the rows they leave or join. It says whether any node changed rows.
func (m *Map) remap(s *Snapshot, prev *Snapshot, touched nameSet, ownRows func()) bool {
	dirty := map[int32]bool{}
	var rowOf map[string]int32
	var freed []int32
	for _, node := range slices.Sorted(maps.Keys(touched)) {
		oldRow, had := prev.rowOf[node]
		key, ok := m.objectFor(node)
		newRow, exists := m.rowByObject[key]
		if ok && !exists {
			// A node without measurements gets a virtual row of its own.
			ownRows()
			newRow = m.allocRow(s)
			m.rowByObject[key] = newRow
			s.rows[newRow], s.egress[newRow] = rowInfo{object: key}, Egress{}
		}
		if had == ok && (!ok || oldRow == newRow) {
			continue
		}
		if rowOf == nil {
			rowOf = maps.Clone(prev.rowOf)
		}
		if had {
			dirty[oldRow] = true
			delete(rowOf, node)
			if _, virtual := virtualNode(s.rows[oldRow].object); virtual {
				freed = append(freed, oldRow)
			}
		}
		if ok {
			dirty[newRow] = true
			rowOf[node] = newRow
		}
	}
	if rowOf == nil {
		return false
	}
	s.rowOf = rowOf
	ownRows()
	for _, row := range freed {
		// Virtual rows are never written: freeing one only forgets it.
		delete(m.rowByObject, s.rows[row].object)
		s.rows[row], s.egress[row] = rowInfo{}, Egress{}
		m.freeRows = append(m.freeRows, row)
		delete(dirty, row)
	}
	for row := range dirty {
		info := &s.rows[row]
		var nodes []string
		node, virtual := virtualNode(info.object)
		if !virtual {
			node = info.object
		}
		if info.site != "" {
			for n := range m.sites[info.site] {
				if r, ok := rowOf[n]; ok && r == row {
					nodes = append(nodes, n)
				}
			}
			slices.Sort(nodes)
		} else if r, ok := rowOf[node]; ok && r == row {
			nodes = []string{node}
		}
		info.nodes = nodes
	}
	return true
}
