package networklatency

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/candidates"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

const stateKey fwk.StateKey = Name

// cycleState is the pod's intent resolved against one pinned snapshot
// (pkg/placement), with what PreFilter worked out from it. It is never
// written after PreFilter, so Clone can share it.
type cycleState struct {
	placement.Request
	// admitted holds the rows within the SLO.
	admitted netmap.Candidates
	// byRow holds every row's demand-weighted RTT (-1 if unknown), from one
	// sequential pass over the table per cycle (or per burst of pods with
	// the same intent).
	byRow []int32
	// short is the nodes PreFilter handed the framework (nil: every node),
	// with their rows and RTTs; listed is the same nodes' names, as the
	// PreFilterResult holds them (the framework copies it, never writes it).
	short  *shortlist.List
	listed sets.Set[string]
	// replacing names the pod, evicted by the rebalancer, whose expected
	// node is the only candidate ("": none); replacingItself, when it had
	// this pod's name (a StatefulSet's).
	replacing       string
	replacingItself bool
}

// PreFilter parses the pod's intent, pins the current network map, works
// out every row's demand-weighted RTT and returns the nodes the pod is
// evaluated on (narrow). A pod with an SLO is held to the nodes that meet
// it, found through the per-landmark index; when none does, the pod is
// rejected here with a message that names the landmark, the SLO and the
// best RTT on offer.
func (pl *NetworkLatency) PreFilter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	pl.waiting.forget(pod)
	in, err := placement.IntentFor(cs, pod, pl.netmap.Current().Profile, pl.parse)
	if err != nil {
		// A LatencyProfile created or fixed later may resolve it: any
		// resolution is progress.
		pl.waiting.add(pod, helpedByAnything)
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
	}
	if in == nil || (len(in.Demand) == 0 && in.DependsOn == nil) {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	snap := pl.netmap.Current()
	if snap.State() == netmap.Syncing {
		// Right after start-up the map is still loading: placing a pod that
		// asked for latency now would place it blind. It is re-activated as
		// soon as the map is ready, whatever the map then admits (-1 is below
		// every candidate count), so that a pod no node can serve gets that
		// verdict instead of keeping this one.
		pl.waiting.add(pod, helpedByAnything)
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, v1alpha1.ReasonLoading)
	}
	req, err := placement.Resolve(snap.View(pl.now(), pl.args.MeasurementTTL.Duration), in)
	if err != nil {
		// A landmark that appears is progress, even before any node is
		// measured to it: the pod's verdict changes, and an SLO pod asks
		// for measurements (askForSLO).
		pl.waiting.add(pod, unresolved)
		msg := err.Error()
		if st := snap.State(); st != netmap.Ready {
			msg += " (" + st.String() + ")"
		}
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msg)
	}
	s := &cycleState{Request: req}
	pl.applyCoverage(pod, s)
	if in.DependsOn != nil {
		s.AddDependency(pl.dependencySites(pod, s.View, in))
	}
	if len(s.Landmarks) == 0 {
		// A dependency that runs nowhere (yet) has nothing to score.
		return nil, fwk.NewStatus(fwk.Skip)
	}
	pl.state.Write(cs, s)
	verdicts.Ensure(cs)
	if s.Bound > 0 && s.DepFrom > 0 {
		demand := s.Landmarks[:s.DepFrom]
		s.admitted = pl.admitted.get(memoKey{view: s.View, landmarks: demand, pct: s.Percentile, bound: s.Bound, accept: s.Accept}, func() netmap.Candidates {
			return s.View.NodesWithin(demand, s.Percentile, s.Bound, s.Accept)
		})
		if s.admitted.Len() == 0 {
			pl.waiting.add(pod, 0)
			pl.askForSLO(s)
			return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, pl.whyNone(s))
		}
		// Other plugins may still turn down all of these nodes; a map update
		// that admits more is then worth a retry (activateHelped).
		pl.waiting.add(pod, s.admitted.Len())
		klog.FromContext(ctx).V(5).Info("nodes within the RTT SLO", "pod", klog.KObj(pod), "nodes", s.admitted.Len())
	}
	if s.LossBound > 0 || s.JitterBound > 0 {
		if why := pl.whyNoneQuality(s); why != "" {
			pl.waiting.add(pod, 0)
			return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, why)
		}
	}
	s.byRow = pl.byRow.get(memoKey{view: s.View, landmarks: s.Landmarks, weights: s.Weights, pct: s.Percentile, accept: s.Accept}, func() []int32 {
		return pl.weightedRTT(s)
	})
	return pl.narrow(ctx, cs, pod, s), nil
}

// weightedRTT is every row's demand-weighted RTT, as View.WeightedRTT has
// it, from each landmark's column; columns are memoised apart, so that pods
// that weigh the same landmarks differently pay only for the mean.
func (pl *NetworkLatency) weightedRTT(s *cycleState) []int32 {
	cols := make([][]int32, len(s.Landmarks))
	for i, lm := range s.Landmarks {
		cols[i] = pl.columns.get(memoKey{view: s.View, landmarks: s.Landmarks[i : i+1], pct: s.Percentile, accept: s.Accept}, func() []int32 {
			out := make([]int32, s.View.NumRows())
			s.View.Column(lm, s.Percentile, s.Accept, out)
			return out
		})
	}
	if len(cols) == 1 {
		return cols[0] // never written: readers share it
	}
	out := make([]int32, s.View.NumRows())
	netmap.WeightedMean(cols, s.Weights, out)
	return out
}

// narrow returns the nodes the pod is evaluated on (pkg/candidates), or nil
// for every node, and lists them in the cycle state for the Filters and
// Scores of edgeplace's plugins.
func (pl *NetworkLatency) narrow(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, s *cycleState) *fwk.PreFilterResult {
	extra, everyNode := pl.spill.take(pod.UID)
	lister := pl.handle.SnapshotSharedLister()
	everyAdmitted := func() *fwk.PreFilterResult {
		if s.Bound > 0 && s.DepFrom > 0 {
			return &fwk.PreFilterResult{NodeNames: s.admitted.Names()}
		}
		return nil
	}
	if everyNode || lister == nil || candidates.PinnedByName(pod) || candidates.ClaimsVolumes(pod) {
		return everyAdmitted()
	}
	logger := klog.FromContext(ctx)
	if len(extra) == 0 { // a pod PostFilter widened is not steered back
		if c, ok := pl.expectedReplacement(logger, pod, s, lister); ok {
			logger.V(3).Info("offering the node the rebalancer expects the replacement on", "pod", klog.KObj(pod), "node", c.Node, "evicted", s.replacing)
			return pl.list(cs, s, []candidates.Candidate{c})
		}
	}
	if pl.args.MinCandidates == 0 {
		return everyAdmitted()
	}
	fits := candidates.NewAdmission(logger, pod, lister.NodeInfos(), s.Intent, s.View).Admits
	p := candidates.Picker{
		RTT:          s.byRow,
		RowNodes:     s.View.RowNodes,
		RowLocations: s.View.RowLocations,
		Fits:         fits,
		Window:       pl.window,
		Floor:        int(pl.args.MinCandidates),
	}
	if s.HoldsRows() {
		p.Eligible = s.eligible
	}
	buf := pl.buffers.Get().(*pickBuffers)
	defer pl.buffers.Put(buf)
	picked, complete := p.Pick(buf.candidates[:0], &buf.scratch)
	defer func() { buf.candidates = picked[:0] }()
	if !complete {
		// The nodes with a known RTT ran out: the ones without one that
		// pass Filter and can take the pod come next, as Score ranks them
		// last. When none can, anywhere, the candidates are the window
		// alone: preemption, if it can help, then frees a node there.
		s.eachUnranked(lister.NodeInfos(), func(node string, row int32) {
			if fits(node) {
				picked = append(picked, candidates.Candidate{Node: node, Row: row, RTT: -1, Location: -1})
			}
		})
	}
	for _, n := range extra {
		if row, ok := s.View.Row(n); ok && (!s.HoldsRows() || s.eligible(row)) {
			picked = append(picked, candidates.Candidate{Node: n, Row: row, RTT: s.byRow[row], Location: -1})
		} else if !ok && !s.HoldsRows() {
			picked = append(picked, candidates.Candidate{Node: n, Row: -1, RTT: -1, Location: -1})
		}
	}
	if len(picked) == 0 {
		// An empty result would reject the pod in PreFilter, where only
		// NetworkLatency's queueing hints could bring it back.
		return everyAdmitted()
	}
	logger.V(5).Info("nearest candidates", "pod", klog.KObj(pod), "nodes", len(picked), "added", len(extra))
	return pl.list(cs, s, picked)
}

// list hands the framework the picked nodes, and lists them, with their
// rows and RTTs, in the cycle state.
func (pl *NetworkLatency) list(cs fwk.CycleState, s *cycleState, picked []candidates.Candidate) *fwk.PreFilterResult {
	b := shortlist.NewBuilder(len(picked))
	names := make(sets.Set[string], len(picked))
	for _, c := range picked {
		if n := len(names); len(names.Insert(c.Node)) == n {
			continue // listed already
		}
		if c.Location < 0 {
			if ref, ok := s.View.Node(c.Node); ok {
				c.Location = ref.Location
			}
		}
		b.Add(c.Node, shortlist.Entry{Row: c.Row, Location: c.Location, RTT: c.RTT})
	}
	s.short, s.listed = b.Build(s.View.Snapshot), names
	shortlist.Write(cs, s.short)
	return &fwk.PreFilterResult{NodeNames: names}
}

// expectedReplacement is the node the rebalancer expects the pod on, as a
// candidate, when the pod replaces one it evicted and the node meets the
// pod's bounds and can take it (replacement.go).
func (pl *NetworkLatency) expectedReplacement(logger klog.Logger, pod *v1.Pod, s *cycleState, lister fwk.SharedLister) (candidates.Candidate, bool) {
	r, ok := pl.replacements.take(pod, pl.now())
	if !ok {
		return candidates.Candidate{}, false
	}
	row, ok := s.View.Row(r.node)
	switch {
	case !ok || s.byRow[row] < 0:
		logger.V(3).Info("the node the rebalancer expects the replacement on has no RTT; placing it as usual", "pod", klog.KObj(pod), "node", r.node)
		return candidates.Candidate{}, false
	case s.HoldsRows() && !s.eligible(row):
		logger.V(3).Info("the node the rebalancer expects the replacement on is beyond the pod's bounds; placing it as usual", "pod", klog.KObj(pod), "node", r.node)
		return candidates.Candidate{}, false
	case !candidates.NewAdmission(logger, pod, lister.NodeInfos(), s.Intent, s.View).Admits(r.node):
		logger.V(3).Info("the node the rebalancer expects the replacement on cannot take it; placing it as usual", "pod", klog.KObj(pod), "node", r.node)
		return candidates.Candidate{}, false
	}
	s.replacing = r.evicted
	// A StatefulSet's replacement has the evicted pod's name.
	s.replacingItself = r.evicted == pod.Name
	return candidates.Candidate{Node: r.node, Row: row, RTT: s.byRow[row], Location: -1}, true
}

// eachUnranked calls visit with every node, and its row (-1: none), that
// passes NetworkLatency's Filter without a known weighted RTT: with an SLO,
// the nodes of rows within it whose RTT to an unbounded dependency is
// unknown; without one, every node the table has no RTT for.
func (s *cycleState) eachUnranked(nodes fwk.NodeInfoLister, visit func(node string, row int32)) {
	if s.HoldsRows() {
		for row, v := range s.byRow {
			if v < 0 && s.eligible(int32(row)) {
				for _, n := range s.View.RowNodes(int32(row)) {
					visit(n, int32(row))
				}
			}
		}
		return
	}
	all, err := nodes.List()
	if err != nil {
		return
	}
	for _, ni := range all {
		name := ni.Node().Name
		row, ok := s.View.Row(name)
		switch {
		case !ok:
			visit(name, -1)
		case s.byRow[row] < 0:
			visit(name, row)
		}
	}
}

// eligible says whether a row's nodes pass NetworkLatency's Filter.
func (s *cycleState) eligible(row int32) bool {
	if s.Bound > 0 && s.DepFrom > 0 && !s.admitted.HasRow(row) {
		return false
	}
	if s.OverQuality(row) != placement.Meets {
		return false
	}
	return s.DepBound == 0 || s.Over(row, s.Dependency(), s.DepBound) == placement.Meets
}

// dependencySites are the site landmarks of where the pod's dependency
// runs, from the scheduler's pod informer (none without one).
func (pl *NetworkLatency) dependencySites(pod *v1.Pod, view netmap.View, in *intent.Intent) []int32 {
	if pl.pods == nil {
		return nil
	}
	deps, err := pl.pods.Pods(pod.Namespace).List(in.DependsOn)
	if err != nil {
		return nil
	}
	return placement.DependencySites(view, pod.UID, deps)
}

// whyNone explains an SLO no node meets, for the pod's owner.
func (pl *NetworkLatency) whyNone(s *cycleState) string {
	slo := fmt.Sprintf("%s %s", fmtRTT(s.Bound), s.Intent.Percentile)
	for _, lm := range s.Landmarks[:s.DepFrom] {
		name := s.View.LandmarkName(lm)
		row, best, ok := s.View.Best(lm, s.Percentile)
		if !ok {
			sloRejections.WithLabelValues(name).Inc()
			return fmt.Sprintf("no node within %s of %s: no node has a measurement of it fresher than %s",
				slo, name, pl.args.MeasurementTTL.Duration)
		}
		if best > s.Bound {
			sloRejections.WithLabelValues(name).Inc()
			return fmt.Sprintf("no node within %s of %s; best is %s at %s",
				slo, name, s.View.Describe(row), fmtRTT(best))
		}
	}
	names := make([]string, s.DepFrom)
	for i, lm := range s.Landmarks[:s.DepFrom] {
		names[i] = s.View.LandmarkName(lm)
	}
	sloRejections.WithLabelValues("(all at once)").Inc()
	return fmt.Sprintf("no node within %s of every demand landmark at once (%s)", slo, strings.Join(names, ", "))
}

// whyNoneQuality explains a loss or jitter bound that no row meets (as
// well as the RTT SLO, if any), naming a landmark and the best figure on
// offer; "" when some row meets them. It is one pass over the rows, paid
// only by pods that state such a bound.
func (pl *NetworkLatency) whyNoneQuality(s *cycleState) string {
	demand := s.Demand()
	bestLoss := make([]int32, len(demand))
	bestJitter := make([]int32, len(demand))
	bestLossRow := make([]int32, len(demand))
	bestJitterRow := make([]int32, len(demand))
	for i := range demand {
		bestLoss[i], bestJitter[i], bestLossRow[i], bestJitterRow[i] = -1, -1, -1, -1
	}
	for row := range int32(s.View.NumRows()) {
		if len(s.View.RowNodes(row)) == 0 || (s.Bound > 0 && !s.admitted.HasRow(row)) {
			continue
		}
		if s.OverQuality(row) == placement.Meets {
			return ""
		}
		for i, lm := range demand {
			loss, jitter, ok := s.View.Quality(row, lm)
			if !ok {
				continue
			}
			if bestLoss[i] < 0 || loss < bestLoss[i] {
				bestLoss[i], bestLossRow[i] = loss, row
			}
			if bestJitter[i] < 0 || jitter < bestJitter[i] {
				bestJitter[i], bestJitterRow[i] = jitter, row
			}
		}
	}
	within := ""
	if s.Bound > 0 {
		within = fmt.Sprintf(" within %s %s", fmtRTT(s.Bound), s.Intent.Percentile)
	}
	for i, lm := range demand {
		name := s.View.LandmarkName(lm)
		switch {
		case bestLoss[i] < 0:
			return fmt.Sprintf("no node%s has a measurement of %s fresher than %s, which %s and %s need",
				within, name, pl.args.MeasurementTTL.Duration, v1alpha1.MaxLossAnnotation, v1alpha1.MaxJitterAnnotation)
		case s.LossBound > 0 && bestLoss[i] > s.LossBound:
			return fmt.Sprintf("no node%s loses at most %s of probes to %s; best is %s at %s",
				within, fmtLoss(s.LossBound), name, s.View.Describe(bestLossRow[i]), fmtLoss(bestLoss[i]))
		case s.JitterBound > 0 && bestJitter[i] > s.JitterBound:
			return fmt.Sprintf("no node%s has at most %s of jitter to %s; best is %s at %s",
				within, fmtRTT(s.JitterBound), name, s.View.Describe(bestJitterRow[i]), fmtRTT(bestJitter[i]))
		}
	}
	return fmt.Sprintf("no node%s meets the loss and jitter bounds to every demand landmark at once", within)
}

func fmtLoss(ppm int32) string { return fmt.Sprintf("%.2f%%", float64(ppm)/10_000) }

func fmtRTT(us int32) string {
	return (time.Duration(us) * time.Microsecond).Round(100 * time.Microsecond).String()
}

// PreFilterExtensions is nil: the plugin's state does not depend on other pods.
func (pl *NetworkLatency) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// pickBuffers are a PreFilter's scratch slices, reused between cycles.
type pickBuffers struct {
	candidates []candidates.Candidate
	scratch    candidates.Scratch
}
