package networklatency

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

// Filter reasons. They are categorical so that the framework can group them
// across nodes; per-node figures go to the log.
const (
	ReasonNoMeasurement = "node(s) had no fresh RTT measurement (or accepted estimate) to a demand landmark"
	ReasonOverSLO       = "node(s) exceeded the pod's RTT SLO to a demand landmark"
	ReasonOverDepSLO    = "node(s) exceeded the pod's RTT SLO to the workload it depends on (edgeplace.io/depends-on-max-rtt)"
	ReasonOverLoss      = "node(s) lost more probes to a demand landmark than the pod allows (edgeplace.io/max-loss)"
	ReasonOverJitter    = "node(s) had more jitter to a demand landmark than the pod allows (edgeplace.io/max-jitter)"
)

// unknownRTT marks a node whose RTT to some demand landmark is missing or
// stale. It scores 0: unknown is never treated as near.
const unknownRTT int64 = -1

// Filter rejects a node whose fresh RTT to any demand landmark exceeds the
// pod's SLO, or that has no fresh measurement to one. PreFilter's
// candidates meet both by construction.
func (pl *NetworkLatency) Filter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, ok := pl.state.Read(cs)
	if !ok {
		return pl.state.Missing()
	}
	if !s.HoldsRows() {
		return nil
	}
	node := nodeInfo.Node().Name
	if _, listed := s.short.Get(node); listed {
		return nil
	}
	// A node PreFilter did not list: a nominated node, or every node when
	// the candidates were not narrowed.
	row, ok := s.View.Row(node)
	if !ok {
		verdicts.Reject(cs, Name, ReasonNoMeasurement)
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonNoMeasurement)
	}
	if s.Bound > 0 && !s.admitted.HasRow(row) {
		if st := s.check(ctx, pod, node, row, s.Demand(), s.Bound, ReasonOverSLO); st != nil {
			verdicts.Reject(cs, Name, st.Message())
			return st
		}
	}
	if v := s.OverQuality(row); v != placement.Meets {
		reason := reasonOf(v)
		verdicts.Reject(cs, Name, reason)
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, reason)
	}
	if s.DepBound > 0 {
		if st := s.check(ctx, pod, node, row, s.Dependency(), s.DepBound, ReasonOverDepSLO); st != nil {
			verdicts.Reject(cs, Name, st.Message())
			return st
		}
	}
	return nil
}

// check holds a row to a bound on some landmarks.
func (s *cycleState) check(ctx context.Context, pod *v1.Pod, node string, row int32, lms []int32, bound int32, reason string) *fwk.Status {
	switch s.Over(row, lms, bound) {
	case placement.Meets:
		return nil
	case placement.Unknown:
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonNoMeasurement)
	}
	if logger := klog.FromContext(ctx).V(5); logger.Enabled() {
		for _, lm := range lms {
			if rtt, _, _ := s.View.Value(row, lm, s.Percentile, s.Accept); rtt > bound {
				logger.Info("node over an RTT SLO", "pod", klog.KObj(pod), "node", node,
					"landmark", s.View.LandmarkName(lm), "rttMicros", rtt, "sloMicros", bound)
				break
			}
		}
	}
	return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, reason)
}

// reasonOf is Filter's reason for a verdict; "" for Meets.
func reasonOf(v placement.Verdict) string {
	switch v {
	case placement.Unknown:
		return ReasonNoMeasurement
	case placement.OverSLO:
		return ReasonOverSLO
	case placement.OverDependency:
		return ReasonOverDepSLO
	case placement.OverLoss:
		return ReasonOverLoss
	case placement.OverJitter:
		return ReasonOverJitter
	}
	return ""
}

// PreScore skips pods without a network intent.
func (pl *NetworkLatency) PreScore(_ context.Context, cs fwk.CycleState, _ *v1.Pod, _ []fwk.NodeInfo) *fwk.Status {
	if _, ok := pl.state.Read(cs); !ok {
		return fwk.NewStatus(fwk.Skip) // PreFilter skipped the pod
	}
	return nil
}

// Score is the demand-weighted mean RTT in microseconds (lower is better;
// NormalizeScore inverts it), or unknownRTT. PreFilter worked it out for
// every row, and listed it for its candidates.
func (pl *NetworkLatency) Score(_ context.Context, cs fwk.CycleState, _ *v1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, ok := pl.state.Read(cs)
	if !ok {
		return 0, pl.state.Missing()
	}
	name := nodeInfo.Node().Name
	if e, listed := s.short.Get(name); listed {
		if e.RTT >= 0 {
			return int64(e.RTT), nil
		}
		return unknownRTT, nil
	}
	row, ok := s.View.Row(name)
	if !ok || s.byRow[row] < 0 {
		return unknownRTT, nil
	}
	return int64(s.byRow[row]), nil
}

// ScoreExtensions returns the plugin: it normalises its own scores.
func (pl *NetworkLatency) ScoreExtensions() fwk.ScoreExtensions { return pl }

// NormalizeScore maps RTTs onto 0..100 over a window anchored at the best
// candidate: the best scores 100, a node worse by the window or more scores 0.
// A window of a few milliseconds, rather than the whole range of RTTs, keeps
// a 1 ms difference worth tens of points next to the stock plugins' scores.
func (pl *NetworkLatency) NormalizeScore(_ context.Context, _ fwk.CycleState, _ *v1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	best := unknownRTT
	for i := range scores {
		if rtt := scores[i].Score; rtt != unknownRTT && (best == unknownRTT || rtt < best) {
			best = rtt
		}
	}
	window := max(pl.window(best), 1)
	for i := range scores {
		rtt := scores[i].Score
		if rtt == unknownRTT {
			scores[i].Score = 0
			continue
		}
		scores[i].Score = max(0, fwk.MaxNodeScore-(rtt-best)*fwk.MaxNodeScore/window)
	}
	return nil
}

// window is how far behind the best RTT (us) a node still scores above 0.
func (pl *NetworkLatency) window(bestUS int64) int64 {
	return max(pl.args.ScoreWindowMin.Microseconds(), bestUS*int64(pl.args.ScoreWindowPercent)/100)
}
