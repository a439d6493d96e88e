package networklatency

import (
	"cmp"
	"math"
	"slices"

	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/ondemand"
)

// Measurements follow the pods that need them: a node's probe is asked to
// measure now (pkg/ondemand) when a placement on it rested on estimates
// (Reserve), and when an SLO pod waits because no node's measurements
// admit it, for the few nodes that might if measured (PreFilter).

// sloAsks bounds the rows a waiting SLO pod asks to be measured.
const sloAsks = 8

// askToMeasure asks the probe of the decision's node to measure the
// landmarks the decision estimated.
func (pl *NetworkLatency) askToMeasure(s *cycleState, d decision) {
	row, ok := s.View.Row(d.node)
	if !ok {
		row = -1
	}
	pl.ask(s, d.node, row, d.estimated)
}

// askForSLO asks for the rows that no fresh measurement rules out of the
// pod's RTT SLO while some demand landmark has none: the best estimates
// first, rows without any last, at most sloAsks. A pod that no node admits
// waits (enqueue.go) until a map update admits one; this makes that update
// come within seconds rather than a probe's full cycle.
func (pl *NetworkLatency) askForSLO(s *cycleState) {
	if pl.measure == nil {
		return
	}
	type candidate struct {
		row   int32
		worst int64 // the largest estimate; MaxInt64 when one is unknown
	}
	var found []candidate
	demand := s.Landmarks[:s.DepFrom]
	for r := range s.View.NumRows() {
		row := int32(r)
		if len(s.View.RowNodes(row)) == 0 {
			continue
		}
		c, missing := candidate{row: row}, false
		for _, lm := range demand {
			if rtt, fresh := s.View.RTT(row, lm, s.Percentile); fresh {
				if rtt > s.Bound {
					missing = false
					break
				}
				continue
			}
			missing = true
			if rtt, _, ok := s.View.Value(row, lm, s.Percentile, netmap.AnyEstimate); ok {
				c.worst = max(c.worst, int64(rtt))
			} else {
				c.worst = math.MaxInt64
			}
		}
		if missing {
			found = append(found, c)
		}
	}
	slices.SortFunc(found, func(a, b candidate) int { return cmp.Or(cmp.Compare(a.worst, b.worst), cmp.Compare(a.row, b.row)) })
	// Landmark names only for the rows asked.
	for _, c := range found[:min(len(found), sloAsks)] {
		var names []string
		for _, lm := range demand {
			if _, fresh := s.View.RTT(c.row, lm, s.Percentile); !fresh {
				names = append(names, s.View.LandmarkName(lm))
			}
		}
		pl.ask(s, s.View.RowNodes(c.row)[0], c.row, names)
	}
}

// ask asks for a node's RTT to landmarks: through the NodeNetwork behind
// its row, or, for a node without one (row -1, or a row of the map's own),
// the object its probe would publish.
func (pl *NetworkLatency) ask(s *cycleState, node string, row int32, landmarks []string) {
	req := ondemand.Request{Node: node, Site: s.View.NodeSite(node), Landmarks: landmarks}
	if row >= 0 {
		req.Object = s.View.RowObject(row)
	}
	if !netmap.IsObjectName(req.Object) {
		req.Object = ""
	}
	if lister := pl.handle.SnapshotSharedLister(); lister != nil {
		if info, err := lister.NodeInfos().Get(node); err == nil && info.Node() != nil {
			req.NodeUID = info.Node().UID
		}
	}
	pl.measure.Ask(req)
}
