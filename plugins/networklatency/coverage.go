package networklatency

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// Replica coverage: the k replicas of a workload (ReplicaSet, and so
// Deployment, or StatefulSet) get a placement plan of k slots, chosen so
// that every demand landmark is near some slot (pkg/coverage). Each
// arriving replica is then scored, and held to the SLO, against only the
// landmarks that unfilled slots serve, so k replicas cover k demand areas
// instead of piling onto the middle. The assumption, stated in the README:
// users reach their nearest replica (DNS, anycast or GSLB).

const (
	// candidatesPerLandmark bounds the plan's search: the nearest rows to
	// each landmark are where any good slot for it is.
	candidatesPerLandmark = 32
	// planTTL bounds how long a plan is reused while the workload's size
	// stays the same; measurements drift.
	planTTL = 5 * time.Minute
)

// workloads finds a pod's workload and its desired replicas, and the pods
// of workloads that pods depend on.
type workloads struct {
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
	pods         corelisters.PodLister

	mu    sync.Mutex
	plans map[types.UID]*workloadPlan
}

type workloadPlan struct {
	replicas int
	demand   string // the demand annotation the plan was made for
	madeAt   time.Time
	slots    []int32  // rows
	objects  []string // the NodeNetwork behind each slot's row, to notice reuse
	serving  []int    // per demand landmark (in the pod's order): index into slots
}

// valid says whether every slot's row still holds the same NodeNetwork.
func (p *workloadPlan) valid(view netmap.View) bool {
	for i, row := range p.slots {
		if view.RowObject(row) != p.objects[i] {
			return false
		}
	}
	return true
}

func newWorkloads(factory informers.SharedInformerFactory) *workloads {
	return &workloads{
		replicaSets:  factory.Apps().V1().ReplicaSets().Lister(),
		statefulSets: factory.Apps().V1().StatefulSets().Lister(),
		pods:         factory.Core().V1().Pods().Lister(),
		plans:        map[types.UID]*workloadPlan{},
	}
}

// owner returns the pod's controlling workload and how many replicas it
// wants; ok is false for pods that are not one of several replicas.
func (w *workloads) owner(pod *v1.Pod) (types.UID, int, bool) {
	ref := controllerOf(pod)
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

func controllerOf(pod *v1.Pod) *metav1.OwnerReference {
	for i := range pod.OwnerReferences {
		if c := pod.OwnerReferences[i].Controller; c != nil && *c {
			return &pod.OwnerReferences[i]
		}
	}
	return nil
}

// plan returns the workload's plan, making it if there is none for this
// size and demand, or if it has aged out.
func (w *workloads) plan(owner types.UID, replicas int, demand string, s *cycleState) *workloadPlan {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.plans[owner]; ok && p.replicas == replicas && p.demand == demand &&
		time.Since(p.madeAt) < planTTL && p.valid(s.view) {
		return p
	}
	// Plans of workloads not seen for a while go, to bound memory.
	for uid, p := range w.plans {
		if time.Since(p.madeAt) > 2*planTTL {
			delete(w.plans, uid)
		}
	}
	p := makePlan(s, replicas)
	p.demand = demand
	w.plans[owner] = p
	return p
}

// makePlan solves the k-median problem over the rows nearest to each of the
// pod's demand landmarks.
func makePlan(s *cycleState, replicas int) *workloadPlan {
	seen := map[int32]bool{}
	var rows []int32
	for _, lm := range s.landmarks {
		for _, r := range s.view.Nearest(lm, s.pct, candidatesPerLandmark) {
			if !seen[r] {
				seen[r] = true
				rows = append(rows, r)
			}
		}
	}
	problem := coverage.Problem{Weights: s.weights, Cost: make([][]int32, len(rows))}
	for i, r := range rows {
		problem.Cost[i] = make([]int32, len(s.landmarks))
		for l, lm := range s.landmarks {
			if rtt, fresh := s.view.RTT(r, lm, s.pct); fresh {
				problem.Cost[i][l] = rtt
			} else {
				problem.Cost[i][l] = coverage.Unknown
			}
		}
	}
	solved := coverage.Solve(problem, replicas)
	p := &workloadPlan{replicas: replicas, madeAt: time.Now(), serving: solved.Serving}
	for _, c := range solved.Slots {
		p.slots = append(p.slots, rows[c])
		p.objects = append(p.objects, s.view.RowObject(rows[c]))
	}
	return p
}

// unfilled returns which slots have no replica of the workload yet, looking
// at the scheduler's snapshot (assumed pods included).
func (p *workloadPlan) unfilled(view netmap.View, nodes fwk.NodeInfoLister, owner types.UID) []bool {
	out := make([]bool, len(p.slots))
	for i, row := range p.slots {
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
				if ref := controllerOf(pi.GetPod()); ref != nil && ref.UID == owner {
					out[i] = false
					break nodes
				}
			}
		}
	}
	return out
}

// applyCoverage narrows the cycle's landmarks to those served by one
// unfilled slot of the pod's workload plan (the one serving the most
// demand), so that the replica goes to that slot's users. Pods that are not
// replicas, and workloads whose slots are all filled, keep their whole
// demand.
func (pl *NetworkLatency) applyCoverage(pod *v1.Pod, s *cycleState) {
	if pl.workloads == nil || len(s.landmarks) < 2 {
		return
	}
	owner, replicas, ok := pl.workloads.owner(pod)
	if !ok {
		return
	}
	lister := pl.handle.SnapshotSharedLister()
	if lister == nil {
		return
	}
	plan := pl.workloads.plan(owner, replicas, pod.Annotations[intent.DemandAnnotation], s)
	if len(plan.slots) == 0 {
		return
	}
	free := plan.unfilled(s.view, lister.NodeInfos(), owner)
	served := make([]int64, len(plan.slots))
	for l, slot := range plan.serving {
		if l < len(s.weights) {
			served[slot] += s.weights[l]
		}
	}
	target := -1
	for i := range plan.slots {
		if free[i] && (target < 0 || served[i] > served[target]) {
			target = i
		}
	}
	if target < 0 {
		return
	}
	var lms []int32
	var weights []int64
	var total int64
	for l, slot := range plan.serving {
		if l < len(s.landmarks) && slot == target {
			lms = append(lms, s.landmarks[l])
			weights = append(weights, s.weights[l])
			total += s.weights[l]
		}
	}
	if len(lms) == 0 {
		return
	}
	s.landmarks, s.weights, s.totalWeight = lms, weights, total
}
