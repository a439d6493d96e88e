package coverage

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

const (
	// candidatesPerLandmark bounds the plan's search: the nearest rows to
	// each landmark are where any good slot for it is.
	candidatesPerLandmark = 32
	// planTTL bounds how long a plan is reused while the workload's size
	// stays the same; measurements drift.
	planTTL = 5 * time.Minute
)

// Workloads finds a pod's workload (ReplicaSet, and so Deployment, or
// StatefulSet) and its desired replicas, and keeps one plan per workload,
// made once and reused until the workload is resized, its demand changes,
// the plan ages out or a slot's measurements are replaced. It is safe for
// concurrent use.
type Workloads struct {
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister

	mu    sync.Mutex
	plans map[types.UID]*WorkloadPlan
}

// Demand is what a plan is made for: the landmarks the workload serves, in
// the network map's view, with their weights. Key identifies the demand (the
// pod's demand annotation), so a changed demand gets a new plan.
type Demand struct {
	View       netmap.View
	Landmarks  []int32
	Weights    []int64
	Percentile netmap.Percentile
	Key        string
}

// WorkloadPlan is a workload's slots, as rows of the network map.
type WorkloadPlan struct {
	Slots   []int32 // rows
	Serving []int   // per demand landmark, in Demand order: index into Slots

	replicas int
	key      string
	madeAt   time.Time
	objects  []string // the NodeNetwork behind each slot's row, to notice reuse
}

// NewWorkloads reads workloads through the scheduler's informer factory.
func NewWorkloads(factory informers.SharedInformerFactory) *Workloads {
	return &Workloads{
		replicaSets:  factory.Apps().V1().ReplicaSets().Lister(),
		statefulSets: factory.Apps().V1().StatefulSets().Lister(),
		plans:        map[types.UID]*WorkloadPlan{},
	}
}

// Owner returns the pod's controlling workload and how many replicas it
// wants; ok is false for pods that are not one of several replicas.
func (w *Workloads) Owner(pod *v1.Pod) (types.UID, int, bool) {
	ref := ControllerOf(pod)
	if ref == nil {
		return "", 0, false
	}
	var replicas *int32
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := w.replicaSets.ReplicaSets(pod.Namespace).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false
		}
		replicas = rs.Spec.Replicas
	case "StatefulSet":
		ss, err := w.statefulSets.StatefulSets(pod.Namespace).Get(ref.Name)
		if err != nil || ss.UID != ref.UID {
			return "", 0, false
		}
		replicas = ss.Spec.Replicas
	default:
		return "", 0, false
	}
	if replicas == nil || *replicas < 2 {
		return "", 0, false
	}
	return ref.UID, int(*replicas), true
}

// ControllerOf returns the pod's controller reference, or nil.
func ControllerOf(pod *v1.Pod) *metav1.OwnerReference {
	for i := range pod.OwnerReferences {
		if c := pod.OwnerReferences[i].Controller; c != nil && *c {
			return &pod.OwnerReferences[i]
		}
	}
	return nil
}

// Plan returns the workload's plan, making it if there is none for this
// size and demand, or if it has aged out.
func (w *Workloads) Plan(owner types.UID, replicas int, d Demand) *WorkloadPlan {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.plans[owner]; ok && p.replicas == replicas && p.key == d.Key &&
		time.Since(p.madeAt) < planTTL && p.valid(d.View) {
		return p
	}
	// Plans of workloads not seen for a while go, to bound memory.
	for uid, p := range w.plans {
		if time.Since(p.madeAt) > 2*planTTL {
			delete(w.plans, uid)
		}
	}
	p := makePlan(d, replicas)
	w.plans[owner] = p
	return p
}

// makePlan solves the k-median problem over the rows nearest to each of the
// demand landmarks.
func makePlan(d Demand, replicas int) *WorkloadPlan {
	seen := map[int32]bool{}
	var rows []int32
	for _, lm := range d.Landmarks {
		for _, r := range d.View.Nearest(lm, d.Percentile, candidatesPerLandmark) {
			if !seen[r] {
				seen[r] = true
				rows = append(rows, r)
			}
		}
	}
	problem := Problem{Weights: d.Weights, Cost: make([][]int32, len(rows))}
	for i, r := range rows {
		problem.Cost[i] = make([]int32, len(d.Landmarks))
		for l, lm := range d.Landmarks {
			// Estimates count: with a few landmarks unmeasured per row,
			// measured values alone would leave almost no usable candidate.
			if rtt, _, ok := d.View.Value(r, lm, d.Percentile, netmap.AnyEstimate); ok {
				problem.Cost[i][l] = rtt
			} else {
				problem.Cost[i][l] = Unknown
			}
		}
	}
	solved := Solve(problem, replicas)
	p := &WorkloadPlan{replicas: replicas, key: d.Key, madeAt: time.Now(), Serving: solved.Serving}
	for _, c := range solved.Slots {
		p.Slots = append(p.Slots, rows[c])
		p.objects = append(p.objects, d.View.RowObject(rows[c]))
	}
	return p
}

// valid says whether every slot's row still holds the same NodeNetwork.
func (p *WorkloadPlan) valid(view netmap.View) bool {
	for i, row := range p.Slots {
		if view.RowObject(row) != p.objects[i] {
			return false
		}
	}
	return true
}

// Unfilled returns which slots have no replica of the workload yet, looking
// at the scheduler's snapshot (assumed pods included).
func (p *WorkloadPlan) Unfilled(view netmap.View, nodes fwk.NodeInfoLister, owner types.UID) []bool {
	out := make([]bool, len(p.Slots))
	for i, row := range p.Slots {
		out[i] = true
		if int(row) >= view.NumRows() {
			continue
		}
	nodes:
		for _, name := range view.RowNodes(row) {
			ni, err := nodes.Get(name)
			if err != nil {
				continue
			}
			for _, pi := range ni.GetPods() {
				if ref := ControllerOf(pi.GetPod()); ref != nil && ref.UID == owner {
					out[i] = false
					break nodes
				}
			}
		}
	}
	return out
}
