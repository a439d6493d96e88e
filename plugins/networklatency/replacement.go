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

// The rebalancer moves a pod only when an hour of history says the node it
// expects the pod on would have served the workload's users better. That
// history lives in the rebalancer; the scheduler sees the last few minutes,
// and on a network that jitters it placed most replacements elsewhere,
// where the history did not vouch for them. So the rebalancer writes the
// node it expects on the pod it evicts (v1alpha1.ReplacementNodeAnnotation)
// and PreFilter offers the workload's next replica that node alone, if it
// still meets the pod's bounds and has room. Filter still runs on it: when
// another plugin turns it down, PostFilter widens the candidates as for any
// candidate set that was turned down.

// replacement is where the rebalancer expects the replacement of a pod it
// evicted.
type replacement struct {
	node       string
	evicted    string // the evicted pod's name
	evictedUID types.UID
	deadline   time.Time
}

// replacements holds, per workload, the expected node of the replacement
// of its last evicted pod, until a replica of the workload is placed or the
// deadline passes. It is safe for concurrent use.
type replacements struct {
	mu      sync.Mutex
	byOwner map[types.UID]replacement
}

func newReplacements() *replacements {
	return &replacements{byOwner: map[types.UID]replacement{}}
}

// watch notes the expected nodes of pods being deleted, from the
// scheduler's pod informer. The informer delivers the rebalancer's
// annotation, and the deletion, before the replacement the workload's
// controller then creates.
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
// deadline has not passed. Only pods being deleted are read, so that a
// pod the rebalancer annotated but could not evict (a disruption budget)
// steers nothing.
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
	for uid, e := range r.byOwner {
		if !now.Before(e.deadline) {
			delete(r.byOwner, uid)
		}
	}
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
