package locality

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/cyclestate"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
	"github.com/edgeplace/edgeplace/pkg/topology"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

// Name is the plugin's name in the registry and in configurations.
const Name = "Locality"

// Filter reasons, one per constraint, so that a pod's event says which.
const (
	ReasonCarrier          = intent.ReasonCarrier
	ReasonForbiddenCarrier = intent.ReasonForbiddenCarrier
	ReasonProvince         = intent.ReasonProvince
	ReasonForbiddenProv    = intent.ReasonForbiddenProv
	ReasonNodeType         = intent.ReasonNodeType
)

// Locality implements the plugin.
type Locality struct {
	netmap *netmap.Map
	parse  intent.Options
	state  *cyclestate.Slot[*cycleState]
}

var (
	_ fwk.PreFilterPlugin   = &Locality{}
	_ fwk.FilterPlugin      = &Locality{}
	_ fwk.PreScorePlugin    = &Locality{}
	_ fwk.ScorePlugin       = &Locality{}
	_ fwk.EnqueueExtensions = &Locality{}
	_ fwk.SignPlugin        = &Locality{}
)

// New is the plugin factory (plugins.Registry hands it the map source).
// Locality has no args; it reads the carriers of demand landmarks from the
// network map.
func New(ctx context.Context, _ runtime.Object, h fwk.Handle, maps feed.Source) (fwk.Plugin, error) {
	m, err := maps.Map(ctx, h.KubeConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: the network map: %w", Name, err)
	}
	// In a cycle, Locality reads the intent NetworkLatency resolved with
	// its args; it parses with these only without one.
	return &Locality{netmap: m, parse: placement.LenientOptions(), state: cyclestate.New[*cycleState](stateKey)}, nil
}

// Name returns the plugin's name.
func (pl *Locality) Name() string { return Name }

const stateKey fwk.StateKey = Name

type cycleState struct {
	in *intent.Intent
	// carrierShare is the share (0..100) of the pod's demand weight whose
	// users are on each carrier; nil when the pod has no demand.
	carrierShare map[string]int64
	// The verdict and score for each distinct node location the network map
	// knows, worked out once per cycle: Filter and Score then cost one index
	// lookup per node instead of parsing its labels.
	view    netmap.View
	reasons []string
	scores  []int64
	// short is NetworkLatency's list of the cycle's candidates, when it
	// made one from the same snapshot: their locations without a lookup
	// in the cluster-wide index.
	short *shortlist.List
}

// judge returns a node's Filter reason ("" to pass) and score, from the
// per-location tables, or from its labels if the map has not seen it yet.
func (s *cycleState) judge(node *v1.Node) (string, int64) {
	if e, ok := s.short.Get(node.Name); ok && e.Location >= 0 {
		return s.reasons[e.Location], s.scores[e.Location]
	}
	if ref, ok := s.view.Node(node.Name); ok {
		return s.reasons[ref.Location], s.scores[ref.Location]
	}
	loc := topology.FromLabels(node.Labels)
	return s.in.LocationViolation(loc), s.score(loc)
}

// score is the share of the pod's demand whose users are on the location's
// carrier (0..100); a multi-carrier node shares every carrier.
func (s *cycleState) score(loc topology.Location) int64 {
	if loc.Carrier == topology.Multi {
		return fwk.MaxNodeScore
	}
	return s.carrierShare[loc.Carrier]
}

// PreFilter parses the pod's constraints once, and works out which carriers
// its users are on.
func (pl *Locality) PreFilter(_ context.Context, cs fwk.CycleState, pod *v1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	in, err := placement.SharedIntent(cs, pod, pl.netmap.Current().Profile, pl.parse)
	if err != nil {
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
	}
	if in == nil || (!in.HasLocation() && len(in.Demand) == 0) {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	snap := pl.netmap.Current()
	s := &cycleState{in: in, view: snap.View(time.Time{}, 0)}
	if len(in.Demand) > 0 {
		var total int64
		weights := map[string]int64{}
		for _, d := range in.Demand {
			total += d.Weight
			if id, ok := snap.Landmark(d.Landmark); ok {
				if c := topology.NormaliseCarrier(snap.LandmarkLocation(id).Carrier); c != "" {
					weights[c] += d.Weight
				}
			}
		}
		if len(weights) > 0 {
			s.carrierShare = map[string]int64{}
			for c, w := range weights {
				s.carrierShare[c] = w * fwk.MaxNodeScore / total
			}
		}
	}
	s.reasons = make([]string, s.view.NumLocations())
	s.scores = make([]int64, s.view.NumLocations())
	for id := range s.reasons {
		loc := s.view.Location(int32(id))
		s.reasons[id], s.scores[id] = in.LocationViolation(loc), s.score(loc)
	}
	if sl := shortlist.Read(cs); sl != nil && sl.Snapshot == any(snap) {
		s.short = sl
	}
	pl.state.Write(cs, s)
	verdicts.Ensure(cs)
	if !in.HasLocation() {
		// Only the carrier preference applies: nothing to filter.
		return nil, fwk.NewStatus(fwk.Skip)
	}
	return nil, nil
}

// PreFilterExtensions is nil: the constraints do not depend on other pods.
func (pl *Locality) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// Filter enforces the pod's carrier, province and node-type constraints. A
// node whose labels do not tell a constrained field fails an allow-list and
// passes a deny-list.
func (pl *Locality) Filter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, ok := pl.state.Read(cs)
	if !ok {
		return pl.state.Missing()
	}
	reason, _ := s.judge(nodeInfo.Node())
	if reason == "" {
		return nil
	}
	if logger := klog.FromContext(ctx).V(5); logger.Enabled() {
		loc := topology.FromLabels(nodeInfo.Node().Labels)
		logger.Info("node fails a location constraint", "pod", klog.KObj(pod), "node", nodeInfo.Node().Name,
			"carrier", loc.Carrier, "province", loc.Province, "nodeType", loc.NodeType, "reason", reason)
	}
	verdicts.Reject(cs, Name, reason)
	return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, reason)
}

// PreScore skips pods whose users' carriers are unknown.
func (pl *Locality) PreScore(_ context.Context, cs fwk.CycleState, _ *v1.Pod, _ []fwk.NodeInfo) *fwk.Status {
	if s, ok := pl.state.Read(cs); !ok || s.carrierShare == nil {
		return fwk.NewStatus(fwk.Skip)
	}
	return nil
}

// Score is the share of the pod's demand whose users are on the node's
// carrier (0..100); a multi-carrier node shares every carrier.
func (pl *Locality) Score(_ context.Context, cs fwk.CycleState, _ *v1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, ok := pl.state.Read(cs)
	if !ok {
		return 0, pl.state.Missing()
	}
	_, score := s.judge(nodeInfo.Node())
	return score, nil
}

// ScoreExtensions is nil: scores are already 0..100.
func (pl *Locality) ScoreExtensions() fwk.ScoreExtensions { return nil }

// SignPod signs the constraints and demand: equal pods filter and score
// alike, whatever was placed before them.
func (pl *Locality) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	in, err := placement.IntentFor(nil, pod, pl.netmap.Current().Profile, pl.parse)
	if err != nil {
		return []fwk.SignFragment{{Key: "edgeplace.io/" + Name, Value: err.Error()}}, nil
	}
	var signed struct {
		Carriers, ForbiddenCarriers, Provinces, ForbiddenProvinces, NodeTypes []string
		Demand                                                                []intent.Demand
	}
	if in != nil {
		signed.Carriers, signed.ForbiddenCarriers, signed.Provinces = in.Carriers, in.ForbiddenCarriers, in.Provinces
		signed.ForbiddenProvinces, signed.NodeTypes, signed.Demand = in.ForbiddenProvinces, in.NodeTypes, in.Demand
	}
	return []fwk.SignFragment{{Key: "edgeplace.io/" + Name, Value: signed}}, nil
}

// EventsToRegister: a node that gets (or changes) location labels, or an
// edit of the pod's own constraints, can make the pod schedulable.
func (pl *Locality) EventsToRegister(context.Context) ([]fwk.ClusterEventWithHint, error) {
	return []fwk.ClusterEventWithHint{
		{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeLabel}, QueueingHintFn: pl.hintNode},
		{Event: fwk.ClusterEvent{Resource: fwk.TargetPod, ActionType: fwk.Update}, QueueingHintFn: hintPodUpdate},
	}, nil
}

func (pl *Locality) hintNode(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	node, ok := newObj.(*v1.Node)
	if !ok {
		return fwk.Queue, nil
	}
	in, err := placement.IntentFor(nil, pod, pl.netmap.Current().Profile, pl.parse)
	if err != nil || in == nil || !in.HasLocation() {
		return fwk.QueueSkip, nil
	}
	if in.LocationViolation(topology.FromLabels(node.Labels)) == "" {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

func hintPodUpdate(_ klog.Logger, _ *v1.Pod, oldObj, newObj any) (fwk.QueueingHint, error) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	newPod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 || intent.Changed(oldPod, newPod) {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}
