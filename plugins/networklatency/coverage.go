package networklatency

import (
	v1 "k8s.io/api/core/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
)

// Replica coverage: the k replicas of a workload (ReplicaSet, and so
// Deployment, or StatefulSet) get a placement plan of k slots, chosen so
// that every demand landmark is near some slot (pkg/coverage, which also caches each workload's plan). Each
// arriving replica is then scored, and held to the SLO, against only the
// landmarks that unfilled slots serve, so k replicas cover k demand areas
// instead of piling onto the middle. The assumption, stated in the README:
// users reach their nearest replica (DNS, anycast or GSLB).

// applyCoverage narrows the cycle's landmarks to those served by one
// unfilled slot of the pod's workload plan (the one serving the most
// demand), so that the replica goes to that slot's users. Pods that are not
// replicas, and workloads whose slots are all filled, keep their whole
// demand.
func (pl *NetworkLatency) applyCoverage(pod *v1.Pod, s *cycleState) {
	if pl.workloads == nil || len(s.Landmarks) < 2 {
		return
	}
	owner, replicas, ok := pl.workloads.Owner(pod)
	if !ok {
		return
	}
	lister := pl.handle.SnapshotSharedLister()
	if lister == nil {
		return
	}
	plan := pl.workloads.Plan(owner, replicas, coverage.Demand{
		View: s.View, Landmarks: s.Landmarks, Weights: s.Weights, Percentile: s.Percentile,
		Key:    pod.Annotations[v1alpha1.DemandAnnotation],
		Window: func(best float64) float64 { return float64(pl.window(int64(best))) },
	})
	if len(plan.Slots) == 0 {
		return
	}
	free := plan.Unfilled(s.View, lister.NodeInfos(), owner)
	served := make([]int64, len(plan.Slots))
	for l, slot := range plan.Serving {
		if l < len(s.Weights) {
			served[slot] += s.Weights[l]
		}
	}
	target := -1
	for i := range plan.Slots {
		if free[i] && (target < 0 || served[i] > served[target]) {
			target = i
		}
	}
	if target < 0 {
		return
	}
	s.Narrow(func(l int) bool { return l < len(plan.Serving) && plan.Serving[l] == target })
}
