package networklatency

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
)

// With its placeReplacementOnTarget arg, the rebalancer writes the node it
// expects the replacement of a pod on (the one its hour of history vouched
// for) on the pod before evicting it (v1alpha1.ReplacementNodeAnnotation),
// and PreFilter offers the workload's next replica that node alone, once,
// if it still meets the pod's bounds and has room. Filter still runs on
// it: when another plugin turns it down, PostFilter widens the candidates
// as for any candidate set that was turned down, and the next attempt is
// not steered. Pods with volume claims keep their usual candidates.

// replacement is where the rebalancer expects the replacement of a pod it
// evicted.
type replacement struct {
	node       string
	evicted    string // the evicted pod's name
	evictedUID types.UID
	deadline   time.Time
}

// replacements holds, per workload, the expected node of the replacement
// of its last evicted pod, until a replica of the workload takes it or the
// deadline passes. Each evicted pod is noted once: the updates a pod gets
// while it terminates, and its deletion, do not bring back an expectation
// already taken. It is safe for concurrent use.
type replacements struct {
	mu      sync.Mutex
	byOwner map[types.UID]replacement
	noted   map[types.UID]time.Time // evicted pods already noted, until their deadline
}

func newReplacements() *replacements {
	return &replacements{byOwner: map[types.UID]replacement{}, noted: map[types.UID]time.Time{}}
}

// watch notes the expected nodes of pods being deleted, from the
// scheduler's pod informer. The rebalancer writes the annotation before it
// evicts, and the controller creates the replacement after the eviction,
// but this handler runs apart from the scheduling queue's: if it lags
// behind the replacement's first attempt, the expectation is missed and the
// replacement is placed on the scheduler's own view, as without it.
func (r *replacements) watch(informer cache.SharedIndexInformer, now func() time.Time) error {
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if pod, ok := obj.(*v1.Pod); ok && pod.DeletionTimestamp != nil {
				r.note(pod, now())
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				r.note(pod, now())
			}
		},
	})
	return err
}

// note records the expected node a pod on its way out names, if its
// deadline has not passed and the pod was not noted before. Only pods
// being deleted are read, so that a pod the rebalancer annotated but could
// not evict (a disruption budget) steers nothing.
func (r *replacements) note(pod *v1.Pod, now time.Time) {
	node := pod.Annotations[v1alpha1.ReplacementNodeAnnotation]
	if node == "" {
		return
	}
	deadline, err := time.Parse(time.RFC3339, pod.Annotations[v1alpha1.ReplacementDeadlineAnnotation])
	if err != nil || !now.Before(deadline) {
		return
	}
	owner := coverage.ControllerOf(pod)
	if owner == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.noted[pod.UID]; seen {
		return
	}
	for uid, e := range r.byOwner {
		if !now.Before(e.deadline) {
			delete(r.byOwner, uid)
		}
	}
	for uid, d := range r.noted {
		if !now.Before(d) {
			delete(r.noted, uid)
		}
	}
	r.noted[pod.UID] = deadline
	r.byOwner[owner.UID] = replacement{node: node, evicted: pod.Name, evictedUID: pod.UID, deadline: deadline}
}

// take returns, and forgets, the expected node for the pod's workload: one
// attempt is steered, so that a node that cannot take the pod after all
// holds it up for one attempt at most.
func (r *replacements) take(pod *v1.Pod, now time.Time) (replacement, bool) {
	owner := coverage.ControllerOf(pod)
	if owner == nil {
		return replacement{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byOwner[owner.UID]
	if !ok {
		return replacement{}, false
	}
	delete(r.byOwner, owner.UID)
	if e.evictedUID == pod.UID || !now.Before(e.deadline) {
		return replacement{}, false
	}
	return e, true
}
