package networklatency

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
)

// When other plugins turn down every candidate (the nodes near the users
// are full in a way the cheap test cannot see, say host ports or
// spreading), full evaluation would have placed the pod further out. The
// framework cannot widen the candidates within the attempt, so PostFilter,
// which the shipped profile runs before DefaultPreemption:
//
//   - runs every Filter on the nodes outside the candidates, nearest first,
//     as full evaluation would have, and remembers those that pass (the
//     nearest, and the others within the score window of it) for the pod's
//     next attempt, which it asks the queue for (Activate: as soon as the
//     pod's backoff allows). It reports Success, so DefaultPreemption does
//     not evict the near nodes' pods for a pod that a node further out
//     takes as it is.
//   - if none passes, lets DefaultPreemption preempt among the candidates,
//     where the pod wants to be, and makes the pod's next attempt evaluate
//     every node: if preemption could not free a candidate (the victims'
//     priority, or every candidate turned down for good by taints or
//     affinity), that attempt's preemption sees what full evaluation would
//     have seen. When no candidate can be freed at all, it asks for that
//     attempt at once.
//
// A pod turned down this way has NetworkLatency among the plugins that
// rejected it, so NetworkLatency's queueing hints requeue it when a node
// outside the candidates may have changed (enqueue.go).

// PostFilter looks for the nodes outside the candidates that take the pod.
func (pl *NetworkLatency) PostFilter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, statuses fwk.NodeToStatusReader) (*fwk.PostFilterResult, *fwk.Status) {
	s, ok := pl.state.Read(cs)
	if !ok || s.short == nil || pl.handle.SnapshotSharedLister() == nil {
		return nil, fwk.NewStatus(fwk.Unschedulable) // every node was evaluated
	}
	logger := klog.FromContext(ctx)
	found := pl.nearestOutside(ctx, cs, pod, s)
	activate := map[string]*v1.Pod{pod.Namespace + "/" + pod.Name: pod}
	if len(found) > 0 && pl.spill.put(pod.UID, found, false) {
		pl.handle.Activate(logger, activate)
		logger.V(3).Info("no candidate took the pod; retrying with the nearest nodes that do", "pod", klog.KObj(pod), "nodes", len(found), "nearest", found[0])
		// Success keeps DefaultPreemption from running; the override clears
		// a nomination an earlier attempt left on a near node.
		return &fwk.PostFilterResult{NominatingInfo: &fwk.NominatingInfo{NominatingMode: fwk.ModeOverride}},
			fwk.NewStatus(fwk.Success, fmt.Sprintf("none of the %d nearest nodes can take the pod; its next attempt adds %d further out that can, nearest %s",
				s.listed.Len(), len(found), found[0]))
	}
	// No node takes the pod as it is. DefaultPreemption, next, may free one
	// among the candidates; if it cannot, the next attempt evaluates every
	// node, so that preemption sees what full evaluation would have seen.
	pl.spill.put(pod.UID, nil, true)
	why := "no node outside the nearest candidates can take the pod either" + s.leftOut()
	for name := range s.listed {
		if statuses.Get(name).Code() == fwk.Unschedulable {
			return nil, fwk.NewStatus(fwk.Unschedulable, why)
		}
	}
	pl.handle.Activate(logger, activate)
	return nil, fwk.NewStatus(fwk.Unschedulable, why+"; preemption cannot free one of the nearest either, so its next attempt evaluates every node")
}

// leftOut says why NetworkLatency's SLOs kept nodes out of the candidates,
// with Filter's categorical reasons: the framework reports such nodes only
// as not satisfying the plugin.
func (s *cycleState) leftOut() string {
	if !s.HoldsRows() {
		return ""
	}
	counts := map[string]int{}
	for row := range s.byRow {
		nodes := len(s.View.RowNodes(int32(row)))
		if nodes == 0 || s.eligible(int32(row)) {
			continue
		}
		reason := reasonOf(s.Check(int32(row)))
		if reason == "" {
			reason = ReasonOverSLO // admitted by neither measurement nor accepted estimate
		}
		counts[reason] += nodes
	}
	var out []string
	for _, reason := range []string{ReasonOverSLO, ReasonOverLoss, ReasonOverJitter, ReasonOverDepSLO, ReasonNoMeasurement} {
		if counts[reason] > 0 {
			out = append(out, fmt.Sprintf("%d %s", counts[reason], reason))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

// rowRTT is a row and its weighted RTT.
type rowRTT struct{ row, rtt int32 }

// postFilterBatch is how many nodes, nearest first, PostFilter evaluates
// in parallel at a time.
const postFilterBatch = 64

// nearestOutside returns the nodes outside the candidates that pass every
// Filter: the nearest one, then the others within the score window of it,
// up to minCandidates.
func (pl *NetworkLatency) nearestOutside(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, s *cycleState) []string {
	nodes := pl.handle.SnapshotSharedLister().NodeInfos()
	var order []rowRTT
	for row, v := range s.byRow {
		if v >= 0 && len(s.View.RowNodes(int32(row))) > 0 && s.eligible(int32(row)) {
			order = append(order, rowRTT{int32(row), v})
		}
	}
	slices.SortFunc(order, func(a, b rowRTT) int { return cmp.Or(cmp.Compare(a.rtt, b.rtt), cmp.Compare(a.row, b.row)) })
	var names []string
	var rtts []int32
	for _, o := range order {
		for _, n := range s.View.RowNodes(o.row) {
			if !s.listed.Has(n) {
				names, rtts = append(names, n), append(rtts, o.rtt)
			}
		}
	}
	s.eachUnranked(nodes, func(node string, _ int32) {
		if !s.listed.Has(node) {
			names, rtts = append(names, node), append(rtts, -1)
		}
	})
	// A copy, so that this search's rejections are not counted as the
	// cycle's (pkg/verdicts).
	state := cs.Clone()
	var found []string
	limit := int32(-1)
	passed := make([]bool, postFilterBatch)
	for start := 0; start < len(names); start += postFilterBatch {
		end := min(start+postFilterBatch, len(names))
		clear(passed)
		pl.handle.Parallelizer().Until(ctx, end-start, func(i int) {
			if ni, err := nodes.Get(names[start+i]); err == nil {
				passed[i] = pl.handle.RunFilterPluginsWithNominatedPods(ctx, state, pod, ni).IsSuccess()
			}
		}, Name)
		for i := start; i < end; i++ {
			far := limit >= 0 && (rtts[i] < 0 || rtts[i] > limit)
			if len(found) > 0 && (len(found) >= int(pl.args.MinCandidates) || far) {
				return found
			}
			if !passed[i-start] {
				continue
			}
			if len(found) == 0 {
				limit = rtts[i] + int32(pl.window(int64(rtts[i])))
				if rtts[i] < 0 {
					limit = -1
				}
			}
			found = append(found, names[i])
		}
	}
	return found
}

// spillover remembers, between a pod's attempts, what PostFilter found:
// nodes to add to its candidates, or that it needs every node.
type spillover struct {
	mu   sync.Mutex
	pods map[types.UID]spilled
}

type spilled struct {
	nodes []string
	all   bool
	since time.Time
}

// spillTTL bounds how long a finding waits for the pod's next attempt:
// longer than the queue's longest backoff and its flush of unschedulable
// pods, so that only a pod that is gone leaves one behind.
const spillTTL = 10 * time.Minute

func newSpillover() *spillover { return &spillover{pods: map[types.UID]spilled{}} }

// put remembers a finding; false when there is no room for it.
func (w *spillover) put(uid types.UID, nodes []string, all bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if len(w.pods) >= maxWaiting {
		for k, v := range w.pods {
			if now.Sub(v.since) > spillTTL {
				delete(w.pods, k)
			}
		}
	}
	_, known := w.pods[uid]
	if !known && len(w.pods) >= maxWaiting {
		return false
	}
	w.pods[uid] = spilled{nodes: nodes, all: all, since: now}
	return true
}

// take returns and forgets what was found for a pod.
func (w *spillover) take(uid types.UID) (nodes []string, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sp, ok := w.pods[uid]
	if !ok {
		return nil, false
	}
	delete(w.pods, uid)
	if time.Since(sp.since) > spillTTL {
		return nil, false
	}
	return sp.nodes, sp.all
}
