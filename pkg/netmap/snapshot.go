package netmap

import (
	"hash/maphash"
	"unique"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/topology"
) // State says how much the map knows.
type State uint8

const (
	// Unavailable: the edgeplace CRDs are not installed; the map is empty.
	Unavailable State = iota
	// Syncing: the CRDs exist and the informers are filling the map.
	Syncing
	// Ready: the map reflects the API server.
	Ready
)

func (s State) String() string {
	switch s {
	case Unavailable:
		return "edgeplace CRDs not installed"
	case Syncing:
		return "measurements still loading"
	}
	return "ready"
}

// Snapshot is an immutable view of the network map. A scheduling cycle pins
// one and reads it without locks.
type Snapshot struct {
	generation uint64
	state      State
	landmarks  []string // sorted; a landmark's ID is its position
	landmarkID map[string]int32
	where      []v1alpha1.Location // by landmark ID
	siteLM     map[string]int32    // site -> its site landmark
	rowOf      map[string]int32    // node name -> row (its own object's, else its site's)
	nodes      *nodeIndex          // every node's row and location, for the hot path
	// rowLocations[rowLocationsAt[r]:rowLocationsAt[r+1]] are the
	// locations of row r's nodes, in RowNodes' order.
	rowLocations   []int32
	rowLocationsAt []int32
	locations      []topology.Location
	rows           []rowInfo
	// egress is each row's bandwidth facts, apart from rows so that the
	// hot path reads a compact array.
	egress   []Egress
	table    table
	index    [][numPercentiles]rttIndex // [landmark][percentile]
	est      *estimates                 // nil until the first estimation run
	profiles map[string]*v1alpha1.LatencyProfile
	// suspect holds the published values of the entries the map does not
	// trust (suspect.go); the table has them as unmeasured.
	suspect        map[suspectKey]Suspect
	suspectVersion uint64
}

// Profile returns a LatencyProfile by namespace and name.
func (s *Snapshot) Profile(namespace, name string) (*v1alpha1.LatencyProfile, bool) {
	lp, ok := s.profiles[namespace+"/"+name]
	return lp, ok
}

// rowInfo describes the NodeNetwork object behind a row.
type rowInfo struct {
	object string   // NodeNetwork name; "" for a free row
	site   string   // set for site-scoped objects
	nodes  []string // nodes whose measurements this row is, sorted
}

// Egress is what a NodeNetwork says about a node's (or each of a site's
// nodes') egress bandwidth.
type Egress struct {
	CapacityMbps int64 // -1: unknown
	BillingZone  string
}

// egressOf interns the zone's name: a cluster has few zones and many
// nodes, and a plugin that looks each candidate's zone up by name then
// reads one shared copy that stays in cache, not one string per node.
func egressOf(nn *v1alpha1.NodeNetwork) Egress {
	e := Egress{CapacityMbps: -1, BillingZone: unique.Make(nn.Status.BillingZone).Value()}
	if c := nn.Status.EgressCapacityMbps; c != nil {
		e.CapacityMbps = *c
	}
	return e
}

func emptySnapshot() *Snapshot {
	return &Snapshot{landmarkID: map[string]int32{}, rowOf: map[string]int32{}}
}

// indexNodes (re)builds the hot-path index of every node's row and
// location; the map calls it whenever either changes. Locations are
// deduplicated: a cluster has as many as it has distinct places.
func (s *Snapshot) indexNodes(seed maphash.Seed, nodes map[string]topology.Location) {
	ids := map[topology.Location]int32{}
	s.locations = nil
	refs := make(map[string]NodeRef, len(nodes))
	for name, loc := range nodes {
		id, ok := ids[loc]
		if !ok {
			id = int32(len(s.locations))
			ids[loc] = id
			s.locations = append(s.locations, loc)
		}
		row, hasRow := s.rowOf[name]
		if !hasRow {
			row = -1
		}
		refs[name] = NodeRef{Row: row, Location: id}
	}
	s.nodes = newNodeIndex(seed, refs)
	s.rowLocationsAt = make([]int32, len(s.rows)+1)
	s.rowLocations = make([]int32, 0, len(refs))
	for r, info := range s.rows {
		for _, n := range info.nodes {
			loc := int32(-1)
			if ref, ok := refs[n]; ok {
				loc = ref.Location
			}
			s.rowLocations = append(s.rowLocations, loc)
		}
		s.rowLocationsAt[r+1] = int32(len(s.rowLocations))
	}
}

// Generation increases with every published snapshot.
func (s *Snapshot) Generation() uint64 { return s.generation }

// State says whether the snapshot can be trusted to be complete.
func (s *Snapshot) State() State { return s.state }

// Landmark returns the ID of a landmark by name.
func (s *Snapshot) Landmark(name string) (int32, bool) {
	id, ok := s.landmarkID[name]
	return id, ok
}

// LandmarkLocation returns where a landmark's users are, as far as known.
func (s *Snapshot) LandmarkLocation(id int32) v1alpha1.Location { return s.where[id] }

func (s *Snapshot) locateLandmarks(where map[string]v1alpha1.Location) {
	s.where = make([]v1alpha1.Location, len(s.landmarks))
	s.siteLM = map[string]int32{}
	for i, name := range s.landmarks {
		s.where[i] = where[name]
		if site := s.where[i].Site; site != "" {
			s.siteLM[site] = int32(i)
		}
	}
}

// SiteLandmark returns the landmark that runs in a site, if any.
func (s *Snapshot) SiteLandmark(site string) (int32, bool) {
	id, ok := s.siteLM[site]
	return id, ok
}

// LandmarkName returns the name of a landmark ID.
func (s *Snapshot) LandmarkName(id int32) string { return s.landmarks[id] }

// NumLandmarks is the number of known landmarks.
func (s *Snapshot) NumLandmarks() int { return len(s.landmarks) }

// NumNodes is the number of nodes that have a row.
func (s *Snapshot) NumNodes() int { return len(s.rowOf) }
