package networklatency

import (
	"cmp"
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
)

// Latency-guided candidates. NormalizeScore gives 0 to every node whose
// demand-weighted RTT is worse than the best feasible node's by the score
// window or more, so such a node can only win when nothing nearer fits.
// PreFilter therefore hands the framework only the nodes that can matter:
//
//   - every node within the window of the best RTT on offer (full or not:
//     if the pod must preempt, that is where it wants to preempt);
//   - then, outward in RTT order, nodes that can take the pod, until the
//     list holds minCandidates of them and every one within the window of
//     the nearest of them.
//
// "Can take the pod" is a cheap look at the snapshot's NodeInfo: free
// resources, taints, required node affinity and cordoning, the stock
// Filters that turn most nodes down. Whatever else turns the whole list
// down (host ports, spreading, volumes) is PostFilter's job (postfilter.go).

// picker chooses a pod's candidates from every row's demand-weighted RTT.
type picker struct {
	rtt      []int32 // by row; -1: unknown
	rowNodes func(row int32) []string
	// eligible says whether a row's nodes can pass NetworkLatency's own
	// Filter (its SLOs); nil: every row.
	eligible func(row int32) bool
	fits     func(node string) bool
	window   func(bestUS int64) int64
	floor    int
}

// candidate is a node picked, with its row and RTT.
type candidate struct {
	node string
	row  int32
	rtt  int32
}

type rowRTT struct{ row, rtt int32 }

// pick appends the candidates to out, nearest rows first. complete is false
// when the rows with a known RTT ran out before floor nodes that fit: the
// rest of the cluster (unmeasured nodes) may then be needed.
func (p picker) pick(out []candidate) (_ []candidate, complete bool) {
	ok := func(row int32) bool {
		return len(p.rowNodes(row)) > 0 && (p.eligible == nil || p.eligible(row))
	}
	best, worst := int32(-1), int32(-1)
	for row, v := range p.rtt {
		if v < 0 {
			continue
		}
		worst = max(worst, v)
		if (best < 0 || v < best) && ok(int32(row)) {
			best = v
		}
	}
	if best < 0 {
		return out, false
	}
	limit := best + int32(p.window(int64(best)))
	fitting, bestFit := 0, int32(-1)
	for row, v := range p.rtt {
		if v < 0 || v > limit || !ok(int32(row)) {
			continue
		}
		for _, n := range p.rowNodes(int32(row)) {
			out = append(out, candidate{n, int32(row), v})
			if p.fits(n) {
				fitting++
				if bestFit < 0 || v < bestFit {
					bestFit = v
				}
			}
		}
	}
	enough := func(next int32) bool {
		return fitting >= p.floor && bestFit >= 0 && next > bestFit+int32(p.window(int64(bestFit)))
	}
	// Widen in bands twice as far from the best each time: one pass over
	// the RTTs per band and a sort of the band's rows only.
	var band []rowRTT
	for lo := limit; ; {
		if enough(lo + 1) {
			return out, true
		}
		if lo >= worst {
			return out, false
		}
		hi := lo + (lo - best) + 1
		band = band[:0]
		for row, v := range p.rtt {
			if v > lo && v <= hi && ok(int32(row)) {
				band = append(band, rowRTT{int32(row), v})
			}
		}
		slices.SortFunc(band, func(a, b rowRTT) int { return cmp.Or(cmp.Compare(a.rtt, b.rtt), cmp.Compare(a.row, b.row)) })
		for _, b := range band {
			if enough(b.rtt) {
				return out, true
			}
			for _, n := range p.rowNodes(b.row) {
				if p.fits(n) {
					out = append(out, candidate{n, b.row, b.rtt})
					fitting++
					if bestFit < 0 {
						bestFit = b.rtt
					}
				}
			}
		}
		lo = hi
	}
}

// admission is a cheap test of whether a node can take a pod, from the
// scheduler snapshot's NodeInfo: the checks of NodeUnschedulable,
// NodeResourcesFit, TaintToleration and NodeAffinity's required terms.
type admission struct {
	nodes                 fwk.NodeInfoLister
	cpu, memory, storage  int64
	scalar                v1.ResourceList
	tolerations           []v1.Toleration
	tolerateUnschedulable bool
	affinity              nodeaffinity.RequiredNodeAffinity
	comparisonOperators   bool
	logger                klog.Logger
}

var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

func newAdmission(logger klog.Logger, pod *v1.Pod, nodes fwk.NodeInfoLister) *admission {
	req := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	a := &admission{
		nodes:               nodes,
		cpu:                 req.Cpu().MilliValue(),
		memory:              req.Memory().Value(),
		storage:             req.StorageEphemeral().Value(),
		tolerations:         pod.Spec.Tolerations,
		affinity:            nodeaffinity.GetRequiredNodeAffinity(pod),
		comparisonOperators: utilfeature.DefaultFeatureGate.Enabled(features.TaintTolerationComparisonOperators),
		logger:              logger,
	}
	for name, q := range req {
		switch name {
		case v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage, v1.ResourcePods:
		default:
			if !q.IsZero() {
				if a.scalar == nil {
					a.scalar = v1.ResourceList{}
				}
				a.scalar[name] = q
			}
		}
	}
	a.tolerateUnschedulable = corev1helpers.TolerationsTolerateTaint(logger, a.tolerations, &unschedulableTaint, a.comparisonOperators)
	return a
}

// admits says whether the node can take the pod, as far as this test tells.
func (a *admission) admits(name string) bool {
	ni, err := a.nodes.Get(name)
	if err != nil || ni.Node() == nil {
		return false
	}
	node := ni.Node()
	if node.Spec.Unschedulable && !a.tolerateUnschedulable {
		return false
	}
	free, used := ni.GetAllocatable(), ni.GetRequested()
	if len(ni.GetPods())+1 > free.GetAllowedPodNumber() ||
		(a.cpu > 0 && used.GetMilliCPU()+a.cpu > free.GetMilliCPU()) ||
		(a.memory > 0 && used.GetMemory()+a.memory > free.GetMemory()) ||
		(a.storage > 0 && used.GetEphemeralStorage()+a.storage > free.GetEphemeralStorage()) {
		return false
	}
	for name, q := range a.scalar {
		if used.GetScalarResources()[name]+q.Value() > free.GetScalarResources()[name] {
			return false
		}
	}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if (t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute) &&
			!corev1helpers.TolerationsTolerateTaint(a.logger, a.tolerations, t, a.comparisonOperators) {
			return false
		}
	}
	match, _ := a.affinity.Match(node)
	return match
}

// pinnedByName says whether the pod's required node affinity names its
// nodes (matchFields metadata.name in every term), as DaemonSet pods' does:
// NodeAffinity's PreFilter then fixes the candidates, and narrowing them
// further could leave none.
func pinnedByName(pod *v1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return false
	}
	for _, t := range terms {
		named := false
		for _, r := range t.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == v1.NodeSelectorOpIn {
				named = true
			}
		}
		if !named {
			return false
		}
	}
	return true
}
