package bandwidthcost

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/cost"
	"github.com/edgeplace/edgeplace/pkg/cyclestate"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

// Name is the plugin's name in the registry and in configurations.
const Name = "BandwidthCost"

// BillingZoneLabel names a node's billing zone; without it, the zone in the
// node's NodeNetwork status counts.
const BillingZoneLabel = v1alpha1.BillingZoneLabel

// Filter reasons.
const (
	ReasonEgress = "node(s) had too little egress bandwidth left (edgeplace.io/egress)"
	ReasonCost   = "node(s) would add more bandwidth cost than the pod's edgeplace.io/max-cost"
)

// BandwidthCost implements the plugin.
type BandwidthCost struct {
	handle fwk.Handle
	netmap *netmap.Map
	zones  map[string]cost.Zone
	other  cost.Zone // zones not listed, and nodes without a zone
	ledger *cost.Ledger
	nodes  corelisters.NodeLister // nil without an informer factory
	parse  intent.Options
	state  *cyclestate.Slot[*cycleState]
}

var (
	_ fwk.PreFilterPlugin   = &BandwidthCost{}
	_ fwk.FilterPlugin      = &BandwidthCost{}
	_ fwk.PreScorePlugin    = &BandwidthCost{}
	_ fwk.ScorePlugin       = &BandwidthCost{}
	_ fwk.ReservePlugin     = &BandwidthCost{}
	_ fwk.EnqueueExtensions = &BandwidthCost{}
	_ fwk.SignPlugin        = &BandwidthCost{}
)

// New is the plugin factory (plugins.Registry hands it the map source): it
// validates the args, reads the network map (for capacities and zones from
// NodeNetworks) and, with the scheduler's informers, feeds the zone ledger
// from its pod informer.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle, maps feed.Source) (fwk.Plugin, error) {
	args, err := argscheme.BandwidthCostArgs(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	m, err := maps.Map(ctx, h.KubeConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: the network map: %w", Name, err)
	}
	pl := &BandwidthCost{
		handle: h,
		netmap: m,
		zones:  map[string]cost.Zone{},
		other:  cost.Zone{PricePerMbps: args.DefaultPricePerMbps.AsApproximateFloat64()},
		ledger: cost.NewLedger(),
		parse:  placement.LenientOptions(), // in a cycle, NetworkLatency's intent is read instead
		state:  cyclestate.New[*cycleState](stateKey),
	}
	for _, z := range args.Zones {
		pl.zones[z.Name] = cost.Zone{PricePerMbps: z.PricePerMbps.AsApproximateFloat64(), CommittedMbps: z.CommittedMbps}
	}
	if f := h.SharedInformerFactory(); f != nil {
		if err := pl.watchPods(f); err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
	}
	return pl, nil
}

// Name returns the plugin's name.
func (pl *BandwidthCost) Name() string { return Name }

// watchPods keeps the ledger in step with the pods the informer sees bound,
// so that zone totals survive restarts and include other schedulers' pods.
func (pl *BandwidthCost) watchPods(f informers.SharedInformerFactory) error {
	pl.nodes = f.Core().V1().Nodes().Lister()
	_, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    pl.recordPod,
		UpdateFunc: func(_, obj any) { pl.recordPod(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				pl.ledger.Remove(pod.UID)
			}
		},
	})
	return err
}

func (pl *BandwidthCost) recordPod(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		pl.ledger.Remove(pod.UID)
		return
	}
	if mbps := pl.egressOf(pod); mbps > 0 {
		var node *v1.Node
		if pl.nodes != nil {
			node, _ = pl.nodes.Get(pod.Spec.NodeName)
		}
		pl.ledger.Set(pod.UID, pl.zoneName(pod.Spec.NodeName, node), mbps)
	}
}

// egressOf is a placed pod's egress, as its intent (annotations over its
// LatencyProfile) states it; malformed intents count as none.
func (pl *BandwidthCost) egressOf(pod *v1.Pod) int64 {
	if _, ok := pod.Annotations[v1alpha1.ProfileAnnotation]; ok {
		if in, err := placement.IntentFor(nil, pod, pl.netmap.Current().Profile, pl.parse); err == nil && in != nil {
			return in.EgressMbps
		}
		return 0
	}
	return egressOf(pod)
}

// egressOf is a pod's egress from its own spec: its extended resource
// request, else its annotation; malformed annotations count as none.
func egressOf(pod *v1.Pod) int64 {
	var total int64
	for i := range pod.Spec.Containers {
		if q, ok := pod.Spec.Containers[i].Resources.Requests[v1alpha1.EgressResource]; ok {
			total += q.Value()
		}
	}
	if total > 0 {
		return total
	}
	if value, ok := pod.Annotations[v1alpha1.EgressAnnotation]; ok {
		mbps, _ := intent.ParseMbps(value)
		return mbps
	}
	return 0
}

// zoneName is a node's billing zone, as Filter and Score see it, for the
// ledger.
func (pl *BandwidthCost) zoneName(name string, node *v1.Node) string {
	return billingOf(pl.netmap.Current().View(timeZero, 0), name, node).BillingZone
}

// billingOf is what the map says about a node's egress and zone (its
// billing-zone label over its NodeNetwork's), falling back to the node's
// own label, when there is a node, for a node the map has not seen yet.
func billingOf(view netmap.View, name string, node *v1.Node) netmap.Egress {
	e, known := view.Billing(name)
	if !known && node != nil {
		e.BillingZone = node.Labels[BillingZoneLabel]
	}
	return e
}

const stateKey fwk.StateKey = Name

type cycleState struct {
	in   *intent.Intent
	view netmap.View
	// marginal is the pod's marginal cost in each listed zone, given its
	// egress when the cycle began, and unlisted its cost elsewhere:
	// computed once per cycle, so that each node costs a zone lookup.
	marginal map[string]float64
	unlisted float64
	// short is NetworkLatency's list of the cycle's candidates, when it
	// made one from the same snapshot: their rows and locations without a
	// lookup in the cluster-wide index.
	short *shortlist.List
	// listed holds, by shortlist slot, each candidate's egress facts,
	// worked out in PreFilter in one pass over the list: Filter and Score
	// then cost one lookup in the list per node.
	listed []listedNode
}

// listedNode is what Filter and Score need of a shortlisted node.
type listedNode struct {
	capacity int64   // from its NodeNetwork, Mbps; -1 unknown
	cost     float64 // the pod's marginal cost in its zone
	known    bool    // false: the list has no location for it
}

// PreFilter reads the pod's egress; pods that state none are skipped.
func (pl *BandwidthCost) PreFilter(_ context.Context, cs fwk.CycleState, pod *v1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	in, err := placement.SharedIntent(cs, pod, pl.netmap.Current().Profile, pl.parse)
	if err != nil {
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
	}
	if in == nil || in.EgressMbps == 0 {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	snap := pl.netmap.Current()
	s := &cycleState{in: in, view: snap.View(timeZero, 0),
		marginal: make(map[string]float64, len(pl.zones)), unlisted: pl.other.Marginal(0, in.EgressMbps)}
	for name, zone := range pl.zones {
		s.marginal[name] = zone.Marginal(pl.ledger.Used(name), in.EgressMbps)
	}
	if sl := shortlist.Read(cs); sl != nil && sl.Snapshot == any(snap) {
		s.short, s.listed = sl, make([]listedNode, sl.Slots())
		sl.Each(func(slot int, e shortlist.Entry) {
			if e.Location >= 0 {
				b := s.view.BillingAt(netmap.NodeRef{Row: e.Row, Location: e.Location})
				s.listed[slot] = listedNode{capacity: b.CapacityMbps, cost: s.marginalIn(b.BillingZone), known: true}
			}
		})
	}
	pl.state.Write(cs, s)
	verdicts.Ensure(cs)
	return nil, nil
}

// PreFilterExtensions is nil: capacity is read from each NodeInfo's pods,
// which preemption's NodeInfo copies already reflect.
func (pl *BandwidthCost) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// Filter keeps the node's egress within its capacity (for pods that state
// egress in an annotation; requests of the extended resource are
// NodeResourcesFit's) and the pod's cost within its ceiling.
func (pl *BandwidthCost) Filter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, ok := pl.state.Read(cs)
	if !ok {
		return pl.state.Missing()
	}
	if s.in.EgressRequested && s.in.MaxCost < 0 {
		return nil // capacity is NodeResourcesFit's, and there is no ceiling
	}
	node := nodeInfo.Node()
	facts := s.facts(node)
	if !s.in.EgressRequested {
		if capacity := capacityOf(nodeInfo, facts.capacity); capacity >= 0 {
			var used int64
			for _, pi := range nodeInfo.GetPods() {
				used += pl.egressOf(pi.GetPod())
			}
			if used+s.in.EgressMbps > capacity {
				if logger := klog.FromContext(ctx).V(5); logger.Enabled() {
					logger.Info("node egress full", "pod", klog.KObj(pod), "node", node.Name,
						"usedMbps", used, "capacityMbps", capacity, "podMbps", s.in.EgressMbps)
				}
				verdicts.Reject(cs, Name, ReasonEgress)
				return fwk.NewStatus(fwk.Unschedulable, ReasonEgress)
			}
		}
	}
	if s.in.MaxCost >= 0 && facts.cost > s.in.MaxCost {
		verdicts.Reject(cs, Name, ReasonCost)
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonCost)
	}
	return nil
}

// facts returns a node's egress capacity (from its NodeNetwork) and the
// pod's marginal cost there: from the cycle's shortlist when it holds the
// node, else from the map's cluster-wide index.
func (s *cycleState) facts(node *v1.Node) listedNode {
	if _, slot, ok := s.short.Find(node.Name); ok && s.listed[slot].known {
		return s.listed[slot]
	}
	b := billingOf(s.view, node.Name, node)
	return listedNode{capacity: b.CapacityMbps, cost: s.marginalIn(b.BillingZone), known: true}
}

// capacityOf is the node's egress capacity in Mbps: its allocatable
// extended resource, else what its NodeNetwork says (fallback); -1 when
// neither says. The NodeInfo's copy of the allocatable scalar resources is
// read rather than the Node's: it is usually empty, and already in cache.
func capacityOf(nodeInfo fwk.NodeInfo, fallback int64) int64 {
	if v, ok := nodeInfo.GetAllocatable().GetScalarResources()[v1alpha1.EgressResource]; ok {
		return v
	}
	return fallback
}

func (s *cycleState) marginalIn(zone string) float64 {
	if m, ok := s.marginal[zone]; ok {
		return m
	}
	return s.unlisted
}

// PreScore skips pods without egress, and all pods while no zone has a price.
func (pl *BandwidthCost) PreScore(_ context.Context, cs fwk.CycleState, _ *v1.Pod, _ []fwk.NodeInfo) *fwk.Status {
	if _, ok := pl.state.Read(cs); !ok || (len(pl.zones) == 0 && pl.other.PricePerMbps == 0) {
		return fwk.NewStatus(fwk.Skip)
	}
	return nil
}

// Score is the marginal monthly cost of the pod's egress on the node, in
// thousandths of the price unit (lower is better; NormalizeScore inverts).
func (pl *BandwidthCost) Score(_ context.Context, cs fwk.CycleState, _ *v1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, ok := pl.state.Read(cs)
	if !ok {
		return 0, pl.state.Missing()
	}
	cost := s.facts(nodeInfo.Node()).cost
	return int64(math.Min(cost*1000, math.MaxInt64/2)), nil
}

// ScoreExtensions returns the plugin: it normalises its own scores.
func (pl *BandwidthCost) ScoreExtensions() fwk.ScoreExtensions { return pl }

// NormalizeScore maps cost onto 0..100: the cheapest node 100, the dearest 0.
func (pl *BandwidthCost) NormalizeScore(_ context.Context, _ fwk.CycleState, _ *v1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	if len(scores) == 0 {
		return nil
	}
	lo, hi := scores[0].Score, scores[0].Score
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		if hi == lo {
			scores[i].Score = fwk.MaxNodeScore
		} else {
			scores[i].Score = (hi - scores[i].Score) * fwk.MaxNodeScore / (hi - lo)
		}
	}
	return nil
}

// Reserve adds the pod's egress to its node's zone at once, so the next pod
// sees it before the binding reaches the informer.
func (pl *BandwidthCost) Reserve(_ context.Context, cs fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	s, ok := pl.state.Read(cs)
	if !ok {
		return nil // PreFilter skipped the pod
	}
	var node *v1.Node
	if lister := pl.handle.SnapshotSharedLister(); lister != nil {
		if ni, err := lister.NodeInfos().Get(nodeName); err == nil {
			node = ni.Node()
		}
	}
	pl.ledger.Set(pod.UID, pl.zoneName(nodeName, node), s.in.EgressMbps)
	return nil
}

// Unreserve takes the pod's egress back out; it is idempotent and may run
// without Reserve.
func (pl *BandwidthCost) Unreserve(_ context.Context, _ fwk.CycleState, pod *v1.Pod, _ string) {
	pl.ledger.Remove(pod.UID)
}

// SignPod refuses batching for pods with egress: their cost depends on what
// earlier pods added to each zone.
func (pl *BandwidthCost) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	if _, profile := pod.Annotations[v1alpha1.ProfileAnnotation]; profile || egressOf(pod) > 0 {
		return nil, fwk.NewStatus(fwk.Unschedulable, "a pod's bandwidth cost depends on what earlier pods added to each zone")
	}
	return nil, nil
}

// EventsToRegister: egress frees up when pods leave, and nodes gain
// capacity; the pod's own annotations may change.
func (pl *BandwidthCost) EventsToRegister(context.Context) ([]fwk.ClusterEventWithHint, error) {
	return []fwk.ClusterEventWithHint{
		{Event: fwk.ClusterEvent{Resource: fwk.AssignedPod, ActionType: fwk.Delete}, QueueingHintFn: hintPodDeleted},
		{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable | fwk.UpdateNodeLabel}},
		{Event: fwk.ClusterEvent{Resource: fwk.TargetPod, ActionType: fwk.Update}},
	}, nil
}

func hintPodDeleted(_ klog.Logger, pod *v1.Pod, oldObj, _ any) (fwk.QueueingHint, error) {
	gone, ok := oldObj.(*v1.Pod)
	if !ok || (egressOf(gone) > 0 && egressOf(pod) > 0) {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// timeZero reads the map without a freshness cut-off: only the NodeNetworks'
// bandwidth facts are used here, not measurements.
var timeZero = time.Time{}
