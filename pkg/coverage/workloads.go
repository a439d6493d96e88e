package coverage

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
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
	// client reads a workload the informers have not seen yet: its first
	// replicas can reach the scheduler before it does, and a replica
	// planned without its workload lands as if it were alone.
	client kubernetes.Interface

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
	// Window is how far behind the best row, in microseconds, a row still
	// counts as one of a slot's: NetworkLatency's score window, within
	// which it ranks nodes as nearly equal and the other plugins choose,
	// so a replica meant for a slot may land on any of those rows.
	Window func(bestUS float64) float64
}

// WorkloadPlan is a workload's slots, as rows of the network map.
type WorkloadPlan struct {
	Slots   []int32 // rows
	Serving []int   // per demand landmark, in Demand order: index into Slots
	// near holds, per slot, the rows a replica fills it from: the slot's
	// row and the rows nearly as near to its users. A row counts for at
	// most one slot.
	near [][]int32

	replicas int
	key      string
	madeAt   time.Time
	objects  []string // the NodeNetwork behind each slot's row, to notice reuse
	// served is each slot's landmarks and weights, and planned its row's
	// demand-weighted RTT to them when the plan was made (-1: unknown), to
	// notice a slot whose site has degraded since.
	served  []servedLandmarks
	planned []float64
}

type servedLandmarks struct {
	lms     []int32
	weights []int64
}

// NewWorkloads reads workloads through the scheduler's informer factory,
// and through client (if not nil) those it has not seen yet.
func NewWorkloads(factory informers.SharedInformerFactory, client kubernetes.Interface) *Workloads {
	return &Workloads{
		replicaSets:  factory.Apps().V1().ReplicaSets().Lister(),
		statefulSets: factory.Apps().V1().StatefulSets().Lister(),
		client:       client,
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
		if apierrors.IsNotFound(err) && w.client != nil {
			rs, err = live(func(ctx context.Context) (*appsv1.ReplicaSet, error) {
				return w.client.AppsV1().ReplicaSets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			})
		}
		if err != nil || rs.UID != ref.UID {
			return "", 0, false
		}
		replicas = rs.Spec.Replicas
	case "StatefulSet":
		ss, err := w.statefulSets.StatefulSets(pod.Namespace).Get(ref.Name)
		if apierrors.IsNotFound(err) && w.client != nil {
			ss, err = live(func(ctx context.Context) (*appsv1.StatefulSet, error) {
				return w.client.AppsV1().StatefulSets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			})
		}
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

// liveTimeout bounds the read of a workload the informers have not seen.
const liveTimeout = 2 * time.Second

func live[T any](get func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
	defer cancel()
	return get(ctx)
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
		time.Since(p.madeAt) < planTTL && p.valid(d) {
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
	// The candidates were the nearest rows to each landmark alone; the best
	// row for a slot's group of landmarks may be elsewhere, and that is
	// where NetworkLatency puts the replica. So each slot moves to the best
	// row anywhere for the landmarks it serves (which can only lower the
	// plan's total), and the rows nearly as good count as the slot.
	served := make([]servedLandmarks, len(p.Slots))
	for l, slot := range solved.Serving {
		if l < len(d.Landmarks) {
			served[slot].lms = append(served[slot].lms, d.Landmarks[l])
			served[slot].weights = append(served[slot].weights, d.Weights[l])
		}
	}
	// A row's demand-weighted RTT to the landmarks a slot serves, estimates
	// counted.
	cost := func(row int32, slot int) (float64, bool) {
		rtt, ok := d.View.MeanRTT(row, served[slot].lms, served[slot].weights, d.Percentile, netmap.AnyEstimate)
		return float64(rtt), ok
	}
	usable := func(row int32) bool { return len(d.View.RowNodes(row)) > 0 }
	best, near := nearRows(int32(d.View.NumRows()), len(p.Slots), cost, usable, d.Window)
	for j, row := range best {
		if row >= 0 {
			p.Slots[j], p.objects[j] = row, d.View.RowObject(row)
		}
	}
	p.near = near
	p.served = served
	for j, row := range p.Slots {
		c, ok := cost(row, j)
		if !ok {
			c = -1
		}
		p.planned = append(p.planned, c)
	}
	return p
}

// maxNearRows bounds the rows that count as one slot, nearest first.
const maxNearRows = 256

// nearRows finds, for each of k slots, the best row by cost (-1 if no row
// has one) and the rows whose cost is within window(best) of that best: a
// row near several slots goes to the one it is least behind, and each slot
// keeps at most maxNearRows, nearest first. A nil window counts only the
// best row.
func nearRows(rows int32, k int, cost func(row int32, slot int) (float64, bool), usable func(row int32) bool,
	window func(best float64) float64) ([]int32, [][]int32) {
	if window == nil {
		window = func(float64) float64 { return 0 }
	}
	best := make([]int32, k)
	bestCost := make([]float64, k)
	for j := range best {
		best[j], bestCost[j] = -1, math.Inf(1)
	}
	for r := range rows {
		if !usable(r) {
			continue
		}
		for j := range k {
			if c, ok := cost(r, j); ok && c < bestCost[j] {
				best[j], bestCost[j] = r, c
			}
		}
	}
	type nearRow struct {
		row    int32
		behind float64
	}
	byslot := make([][]nearRow, k)
	for r := range rows {
		if !usable(r) {
			continue
		}
		slot, behind := -1, math.Inf(1)
		for j := range k {
			c, ok := cost(r, j)
			if excess := c - bestCost[j]; ok && excess <= window(bestCost[j]) && excess < behind {
				slot, behind = j, excess
			}
		}
		if slot >= 0 {
			byslot[slot] = append(byslot[slot], nearRow{r, behind})
		}
	}
	near := make([][]int32, k)
	for j, list := range byslot {
		slices.SortFunc(list, func(a, b nearRow) int { return cmp.Or(cmp.Compare(a.behind, b.behind), cmp.Compare(a.row, b.row)) })
		for _, nr := range list[:min(len(list), maxNearRows)] {
			near[j] = append(near[j], nr.row)
		}
	}
	return best, near
}

// valid says whether every slot's row still holds the same NodeNetwork and
// is still about as near to the slot's users as when the plan was made
// (within the score window): a slot whose site has degraded gets a new
// plan, so that a replica moved off it (the rebalancer's eviction) goes
// where the slot's users are best served now, and the rows that count as
// filling each slot are the ones near now.
func (p *WorkloadPlan) valid(d Demand) bool {
	for i, row := range p.Slots {
		if int(row) >= d.View.NumRows() || d.View.RowObject(row) != p.objects[i] {
			return false
		}
		if p.planned[i] < 0 {
			continue
		}
		now, ok := d.View.MeanRTT(row, p.served[i].lms, p.served[i].weights, d.Percentile, netmap.AnyEstimate)
		window := 0.0
		if d.Window != nil {
			window = d.Window(p.planned[i])
		}
		if !ok || float64(now) > p.planned[i]+window {
			return false
		}
	}
	return true
}

// Unfilled returns which slots have no replica of the workload yet on any
// of their near rows, looking at the scheduler's snapshot (assumed pods
// included, pods being deleted not).
func (p *WorkloadPlan) Unfilled(view netmap.View, nodes fwk.NodeInfoLister, owner types.UID) []bool {
	out := make([]bool, len(p.Slots))
	for i := range p.Slots {
		out[i] = !p.hasReplica(i, view, nodes, owner)
	}
	return out
}

func (p *WorkloadPlan) hasReplica(slot int, view netmap.View, nodes fwk.NodeInfoLister, owner types.UID) bool {
	for _, row := range p.near[slot] {
		if int(row) >= view.NumRows() {
			continue
		}
		for _, name := range view.RowNodes(row) {
			ni, err := nodes.Get(name)
			if err != nil {
				continue
			}
			for _, pi := range ni.GetPods() {
				// A replica being deleted (evicted, say) holds its node
				// until its kubelet lets go, for up to its grace period,
				// while its replacement is already being placed: that
				// replacement is the slot's, not a second replica.
				if pi.GetPod().DeletionTimestamp != nil {
					continue
				}
				if ref := ControllerOf(pi.GetPod()); ref != nil && ref.UID == owner {
					return true
				}
			}
		}
	}
	return false
}
