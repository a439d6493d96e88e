package networklatency

import (
	"context"
	"errors"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
)

// Cluster events on the edgeplace resources, in the scheduler's
// "<plural>.<version>.<group>" form (served through its dynamic informers).
const (
	nodeNetworkEvents fwk.EventResource = "nodenetworks.v1alpha1.edgeplace.io"
	landmarkEvents    fwk.EventResource = "landmarks.v1alpha1.edgeplace.io"
	profileEvents     fwk.EventResource = "latencyprofiles.v1alpha1.edgeplace.io"
)

// EventsToRegister lists the events that can make a pod this plugin rejected
// schedulable. Events on the edgeplace resources are registered only when
// their CRDs exist: the scheduler waits for an informer on an absent
// resource forever. The scheduler's informers and the network map's race, so
// the map also re-activates the pods an update helps (activateHelped).
func (pl *NetworkLatency) EventsToRegister(ctx context.Context) ([]fwk.ClusterEventWithHint, error) {
	events := []fwk.ClusterEventWithHint{
		{Event: fwk.ClusterEvent{Resource: fwk.TargetPod, ActionType: fwk.Update}, QueueingHintFn: pl.hintPodUpdate},
		{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeLabel | fwk.UpdateNodeTaint | fwk.UpdateNodeAllocatable}, QueueingHintFn: pl.hintNode},
		{Event: fwk.ClusterEvent{Resource: fwk.AssignedPod, ActionType: fwk.Add}, QueueingHintFn: pl.hintDependencyPlaced},
		{Event: fwk.ClusterEvent{Resource: fwk.AssignedPod, ActionType: fwk.Delete}, QueueingHintFn: pl.hintPodDeleted},
	}
	if cs := pl.handle.ClientSet(); cs != nil && feed.CRDsInstalled(cs.Discovery()) {
		events = append(events,
			fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: nodeNetworkEvents, ActionType: fwk.Add | fwk.Update}, QueueingHintFn: pl.hintNodeNetwork},
			fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: landmarkEvents, ActionType: fwk.Add}, QueueingHintFn: pl.hintLandmark},
		)
		if feed.Served(cs.Discovery(), "latencyprofiles") {
			events = append(events, fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: profileEvents, ActionType: fwk.Add | fwk.Update}, QueueingHintFn: hintProfile})
		}
	} else {
		klog.FromContext(ctx).Info("edgeplace CRDs are not installed; pods rejected for latency are requeued by the network map only")
	}
	return events, nil
}

// hintPodUpdate requeues a pod whose intent annotations changed.
func (pl *NetworkLatency) hintPodUpdate(_ klog.Logger, _ *v1.Pod, oldObj, newObj any) (fwk.QueueingHint, error) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	newPod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 || intent.Changed(oldPod, newPod) {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// hintDependencyPlaced requeues a pod when a pod of the workload it depends
// on is placed: the RTT to that site may now meet its SLO.
func (pl *NetworkLatency) hintDependencyPlaced(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	placed, ok := newObj.(*v1.Pod)
	if !ok {
		return fwk.Queue, nil
	}
	if _, depends := pod.Annotations[v1alpha1.DependsOnAnnotation]; !depends && pod.Annotations[v1alpha1.ProfileAnnotation] == "" {
		return fwk.QueueSkip, nil
	}
	in, err := pl.intentOf(pod)
	if err != nil || in == nil || in.DependsOn == nil || placed.Namespace != pod.Namespace || !in.DependsOn.Matches(labels.Set(placed.Labels)) {
		return fwk.QueueSkip, nil
	}
	return fwk.Queue, nil
}

// hintNode requeues an SLO pod when a node arrives (or changes site, taints
// or allocatable) whose measurements, as the map has them now, meet the
// SLO. A pod without an SLO that NetworkLatency turned down was narrowed to
// its nearest nodes, which others turned down; any node may now take it.
func (pl *NetworkLatency) hintNode(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	node, ok := newObj.(*v1.Node)
	if !ok {
		return fwk.Queue, nil
	}
	in, err := pl.intentOf(pod)
	if err != nil || in == nil {
		return fwk.QueueSkip, nil
	}
	if !in.HasSLO() {
		if pl.waiting.rejected(pod) {
			return fwk.QueueSkip, nil // PreFilter turned it down: not a node's doing
		}
		return fwk.Queue, nil
	}
	view := pl.netmap.Current().View(pl.now(), pl.args.MeasurementTTL.Duration)
	row, ok := view.Row(node.Name)
	if !ok {
		return fwk.QueueSkip, nil
	}
	req, err := placement.Resolve(view, in)
	if err != nil || req.Over(row, req.Demand(), req.Bound) != placement.Meets {
		return fwk.QueueSkip, nil
	}
	return fwk.Queue, nil
}

// hintNodeNetwork requeues an SLO pod when an updated NodeNetwork carries
// fresh measurements within the SLO to every landmark the pod serves.
func (pl *NetworkLatency) hintNodeNetwork(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	nn, err := asTyped[v1alpha1.NodeNetwork](newObj)
	if err != nil {
		return fwk.Queue, err
	}
	in, perr := pl.intentOf(pod)
	if perr != nil || in == nil || !in.HasSLO() {
		return fwk.QueueSkip, nil
	}
	measured := make(map[string]*v1alpha1.LandmarkRTT, len(nn.Status.Landmarks))
	for i := range nn.Status.Landmarks {
		measured[nn.Status.Landmarks[i].Landmark] = &nn.Status.Landmarks[i]
	}
	freshSince := pl.now().Add(-pl.args.MeasurementTTL.Duration)
	for _, d := range in.Demand {
		m, ok := measured[d.Landmark]
		if !ok || m.ObservedTime.Time.Before(freshSince) {
			return fwk.QueueSkip, nil
		}
		rtt := m.RTTP90Microseconds
		if placement.Percentile(in.Percentile) == netmap.P50 {
			rtt = m.RTTP50Microseconds
		}
		if time.Duration(rtt)*time.Microsecond > in.MaxRTT {
			return fwk.QueueSkip, nil
		}
	}
	return fwk.Queue, nil
}

// hintPodDeleted requeues a pod when a pod that ran on a node is deleted:
// NetworkLatency narrowed the pod to its nearest nodes, and the room freed
// may be on one of them, or on a node further out that the plugins which
// turned the candidates down never looked at.
func (pl *NetworkLatency) hintPodDeleted(_ klog.Logger, pod *v1.Pod, _, _ any) (fwk.QueueingHint, error) {
	if pl.waiting.rejected(pod) {
		return fwk.QueueSkip, nil // PreFilter turned it down: no node can help
	}
	return fwk.Queue, nil
}

// hintLandmark requeues a pod when a landmark it names appears.
func (pl *NetworkLatency) hintLandmark(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	lm, err := asTyped[v1alpha1.Landmark](newObj)
	if err != nil {
		return fwk.Queue, err
	}
	in, perr := pl.intentOf(pod)
	if perr != nil || in == nil {
		return fwk.QueueSkip, nil
	}
	for _, d := range in.Demand {
		if d.Landmark == lm.Name {
			return fwk.Queue, nil
		}
	}
	return fwk.QueueSkip, nil
}

// hintProfile requeues a pod when the LatencyProfile it names appears or
// changes.
func hintProfile(_ klog.Logger, pod *v1.Pod, _, newObj any) (fwk.QueueingHint, error) {
	lp, err := asTyped[v1alpha1.LatencyProfile](newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if lp.Namespace == pod.Namespace && pod.Annotations[v1alpha1.ProfileAnnotation] == lp.Name {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// asTyped converts an object from the scheduler's dynamic informers.
func asTyped[T any](obj any) (*T, error) {
	if t, ok := obj.(*T); ok {
		return t, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, errUnexpectedObject
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return nil, err
	}
	return out, nil
}

var errUnexpectedObject = errors.New("unexpected object in a cluster event")

// maxWaiting bounds how many rejected pods the plugin re-checks on each map
// update; beyond it, pods rely on the scheduler's queueing hints alone.
const maxWaiting = 1024

// waitingPods remembers the pods PreFilter rejected for lack of landmarks or
// of nodes within the SLO, to re-activate them when the map can help.
type waitingPods struct {
	mu   sync.Mutex
	pods map[types.UID]waitingPod
}

type waitingPod struct {
	pod *v1.Pod
	// candidates is how many nodes PreFilter admitted (0: it rejected the
	// pod); an update that admits more may help.
	candidates int
	since      time.Time
}

// waitingTTL bounds how long a pod is remembered without being helped.
const waitingTTL = 10 * time.Minute

func newWaitingPods() *waitingPods { return &waitingPods{pods: map[types.UID]waitingPod{}} }

func (w *waitingPods) add(pod *v1.Pod, candidates int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pods) < maxWaiting {
		w.pods[pod.UID] = waitingPod{pod: pod, candidates: candidates, since: time.Now()}
	}
}

// rejected says whether PreFilter turned the pod down outright in its last
// attempt (no landmark, no node within the SLO, a bad profile, the map
// loading).
func (w *waitingPods) rejected(pod *v1.Pod) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pods[pod.UID]
	return ok && p.candidates <= 0
}

func (w *waitingPods) forget(pod *v1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pods, pod.UID)
}

// activateHelped runs after each network map update and moves back to the
// active queue the waiting pods for which the new snapshot admits more
// nodes than their last PreFilter did: a pod rejected outright, or one whose
// few candidates other plugins turned down.
func (pl *NetworkLatency) activateHelped(ctx context.Context, snap *netmap.Snapshot) {
	if snap.State() == netmap.Syncing {
		return // nothing to gain yet: PreFilter would hold the pods again
	}
	view := snap.View(pl.now(), pl.args.MeasurementTTL.Duration)
	helped := map[string]*v1.Pod{}
	pl.waiting.mu.Lock()
	for uid, w := range pl.waiting.pods {
		// Resolved again: the pod's LatencyProfile may have changed too.
		in, err := placement.IntentFor(nil, w.pod, snap.Profile, pl.parse) // the new snapshot's profiles
		switch {
		case err == nil && in != nil && candidatesFor(view, in) > w.candidates:
			helped[string(uid)] = w.pod
			delete(pl.waiting.pods, uid)
		case time.Since(w.since) > waitingTTL:
			delete(pl.waiting.pods, uid)
		}
	}
	pl.waiting.mu.Unlock()
	if len(helped) > 0 {
		logger := klog.FromContext(ctx)
		logger.V(3).Info("network map update may help pods rejected for latency", "pods", len(helped), "generation", snap.Generation())
		pl.handle.Activate(logger, helped)
	}
}

// What a waiting pod's candidates are when PreFilter could not count
// nodes: any map update that lets it is progress.
const (
	unresolved       = -1 // its landmarks did not resolve
	helpedByAnything = -2 // its intent did not parse, or the map was loading
)

// candidatesFor is how many nodes PreFilter would now admit (0: it would
// reject the pod; unresolved: its landmarks do not resolve).
func candidatesFor(view netmap.View, in *intent.Intent) int {
	if view.State() == netmap.Syncing {
		return unresolved
	}
	req, err := placement.Resolve(view, in)
	if err != nil {
		return unresolved
	}
	if !in.HasSLO() {
		return max(1, view.NumNodes())
	}
	return view.NodesWithin(req.Demand(), req.Percentile, req.Bound, req.Accept).Len()
}

// Reserve forgets a pod that got a node (it waits no more), records
// NetworkLatency's view of the decision and asks the node's probe to
// measure what the decision estimated (decision.go), as far as the args
// allow.
func (pl *NetworkLatency) Reserve(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, node string) *fwk.Status {
	pl.waiting.forget(pod)
	pl.reserved(cs, pod, node)
	return nil
}

// Unreserve does nothing: a pod that loses its node goes through PreFilter
// again, which records it if it waits for the network.
func (pl *NetworkLatency) Unreserve(context.Context, fwk.CycleState, *v1.Pod, string) {}
