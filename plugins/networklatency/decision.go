package networklatency

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

// alternatives is how many runner-up nodes the decision names.
const alternatives = 3

// decision is NetworkLatency's view of a pod's placement on a node.
type decision struct {
	node     string
	weighted int64 // demand-weighted RTT, microseconds; unknownRTT if unknown
	parts    []string
	sources  map[netmap.Source]bool
	// estimated are the landmarks whose RTT from the node was not a fresh
	// measurement: estimated or unknown.
	estimated       []string
	admitted        int // nodes the SLO admitted; -1 without an SLO
	total           int
	others          []ranked
	rejected        string // what edgeplace's Filters rejected (pkg/verdicts)
	replacing       string // the pod the rebalancer evicted, expecting this one here
	replacingItself bool   // the evicted pod had this one's name
}

type ranked struct {
	node string
	rtt  int64
}

// decide describes the chosen node's RTT to each demand landmark and the
// best other nodes by NetworkLatency's own score.
func (pl *NetworkLatency) decide(s *cycleState, node string) decision {
	d := decision{node: node, weighted: unknownRTT, sources: map[netmap.Source]bool{}, admitted: -1, total: s.View.NumNodes(), replacing: s.replacing, replacingItself: s.replacingItself}
	if s.Bound > 0 {
		d.admitted = s.admitted.Len()
	}
	row, ok := s.View.Row(node)
	if !ok {
		for _, lm := range s.Landmarks {
			d.estimated = append(d.estimated, s.View.LandmarkName(lm))
		}
		return d
	}
	now := pl.now()
	for _, lm := range s.Landmarks {
		rtt, src, ok := s.View.Value(row, lm, s.Percentile, s.Accept)
		name := s.View.LandmarkName(lm)
		if !ok || src != netmap.Measured {
			d.estimated = append(d.estimated, name)
		}
		if !ok {
			d.parts = append(d.parts, name+" unknown")
			continue
		}
		d.sources[src] = true
		part := fmt.Sprintf("%s %s %s", name, fmtRTT(rtt), src)
		if src == netmap.Measured {
			part += fmt.Sprintf(" %s ago", now.Sub(s.View.Observed(row, lm)).Round(time.Second))
		}
		d.parts = append(d.parts, part)
	}
	if rtt := s.RowRTT(row); rtt >= 0 {
		d.weighted = int64(rtt)
	}
	for _, r := range s.Best(s.byRow, alternatives, row) {
		// One node per row: its site peers score the same.
		d.others = append(d.others, ranked{s.View.RowNodes(r.Row)[0], int64(r.RTT)})
	}
	return d
}

// String is the event note: short enough for an Event (1 KB).
func (d decision) String() string {
	var b strings.Builder
	if d.weighted == unknownRTT {
		fmt.Fprintf(&b, "node %s: RTT unknown", d.node)
	} else {
		fmt.Fprintf(&b, "node %s: weighted RTT %s", d.node, fmtRTT(int32(d.weighted)))
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(d.parts, ", "))
	if d.admitted >= 0 {
		fmt.Fprintf(&b, "; SLO admitted %d of %d nodes", d.admitted, d.total)
	}
	switch {
	case d.replacingItself:
		b.WriteString("; the node the rebalancer expected when it evicted this pod's previous instance")
	case d.replacing != "":
		fmt.Fprintf(&b, "; the node the rebalancer expected when it evicted pod %s", d.replacing)
	}
	if d.rejected != "" {
		fmt.Fprintf(&b, "; %s", d.rejected)
	}
	if len(d.others) > 0 {
		var parts []string
		for _, o := range d.others {
			parts = append(parts, fmt.Sprintf("%s %s", o.node, fmtRTT(int32(o.rtt))))
		}
		fmt.Fprintf(&b, "; next best: %s", strings.Join(parts, ", "))
	}
	note := b.String()
	if len(note) > 1000 {
		note = note[:997] + "..."
	}
	return note
}

// reserved looks at the decision on the pod's node: it asks the node's
// probe to measure what the decision estimated, observes the decision's
// metrics and records it on the pod as an event (asynchronously, through
// the framework's broadcaster).
func (pl *NetworkLatency) reserved(cs fwk.CycleState, pod *v1.Pod, node string) {
	if !pl.args.RecordDecisions && pl.measure == nil {
		return
	}
	s, ok := pl.state.Read(cs)
	if !ok {
		return // PreFilter skipped the pod
	}
	d := pl.decide(s, node)
	if pl.measure != nil && len(d.estimated) > 0 {
		pl.askToMeasure(s, d)
	}
	if !pl.args.RecordDecisions {
		return
	}
	d.rejected = verdicts.Summary(cs)
	if d.weighted != unknownRTT {
		chosenRTT.Observe(float64(d.weighted) / 1e6)
	}
	for src := range d.sources {
		if src != netmap.Measured {
			estimatedDecisions.WithLabelValues(src.String()).Inc()
		}
	}
	if r := pl.handle.EventRecorder(); r != nil {
		r.Eventf(pod, nil, v1.EventTypeNormal, v1alpha1.DecisionReason, "Scheduling", "%s", d.String())
	}
}
