// Package candidates is the rule for the nodes a pod with a network intent
// is evaluated on: the nearest that can win. NetworkLatency's PreFilter
// applies it (plugins/networklatency) and hands the result to the
// framework as a PreFilterResult.
package candidates

import (
	"math"
	"math/bits"
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"

	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Latency-guided candidates. NormalizeScore gives 0 to every node whose
// demand-weighted RTT is worse than the best feasible node's by the score
// window or more, so such a node wins only where the stock plugins prefer
// it by more than NetworkLatency's whole weight, or where nothing nearer
// fits (BenchmarkPruning measures how often evaluating fewer nodes changes
// a decision). PreFilter therefore hands the framework only the nodes that
// can matter:
//
//   - every node within the window of the best RTT on offer (full or not:
//     if the pod must preempt, that is where it wants to preempt);
//   - then, outward in RTT order, nodes that can take the pod, until the
//     list holds minCandidates of them and every one within the window of
//     the nearest of them.
//
// "Can take the pod" is a cheap look at the snapshot's NodeInfo and the
// node's location: free resources, taints, required node affinity,
// cordoning and Locality's carrier, province and node-type constraints,
// the Filters that turn most nodes down. Whatever else turns the whole
// list down (host ports, spreading, BandwidthCost's ceilings) is
// NetworkLatency's PostFilter's job (plugins/networklatency/postfilter.go).

// Picker chooses a pod's candidates from every row's demand-weighted RTT.
type Picker struct {
	RTT      []int32 // by row; -1: unknown
	RowNodes func(row int32) []string
	// RowLocations, if set, gives the location IDs of a row's nodes, in
	// RowNodes' order, for the candidates to carry.
	RowLocations func(row int32) []int32
	// Eligible says whether a row's nodes can pass NetworkLatency's own
	// Filter (its SLOs); nil: every row.
	Eligible func(row int32) bool
	// Fits says whether a node can take the pod (Admission.Admits).
	Fits func(node string) bool
	// Window is how far behind the best RTT a node still scores (NormalizeScore).
	Window func(bestUS int64) int64
	// Floor is how many nodes that fit the candidates hold at least.
	Floor int
}

// Candidate is a node picked, with its row, RTT and location (-1: unknown).
type Candidate struct {
	Node     string
	Row      int32
	RTT      int32
	Location int32
}

type rowRTT struct{ row, rtt int32 }

// Pick appends the candidates to out, nearest rows first. complete is false
// when the rows with a known RTT ran out before floor nodes that fit: the
// rest of the cluster (unmeasured nodes) may then be needed.
//
// Its cost is one pass over the RTTs, collecting the rows below a cut that
// a sample of them suggests, and a sort of the collected rows, not of the
// cluster. A cut that proves too short costs another pass, further out.
func (p Picker) Pick(out []Candidate, scratch *Scratch) (_ []Candidate, complete bool) {
	ok := func(row int32) bool {
		return len(p.RowNodes(row)) > 0 && (p.Eligible == nil || p.Eligible(row))
	}
	guess := p.sample()
	if guess.rows == 0 {
		return out, false
	}
	best, limit := int32(-1), int32(-1)
	fitting, bestFit := 0, int32(-1)
	enough := func(next int32) bool {
		return fitting >= p.Floor && bestFit >= 0 && next > bestFit+int32(p.Window(int64(bestFit)))
	}
	// The first cut holds, by the sample, the window of the sampled best
	// (no nearer than the true best) and twice the floor.
	want := 2 * p.Floor
	lo, hi := int32(-1), guess.cut(guess.best+int32(p.Window(int64(guess.best))), want)
	for {
		// Each row is packed with its RTT above it in one integer, so that
		// rows sort by RTT, then row.
		rows, worst := scratch.rows[:0], int32(-1)
		span := uint32(hi) - uint32(lo)
		for row, v := range p.RTT {
			worst = max(worst, v)
			if uint32(v)-uint32(lo)-1 < span && ok(int32(row)) { // lo < v <= hi
				rows = append(rows, uint64(v)<<32|uint64(row))
			}
		}
		scratch.rows = rows
		// The rows are grouped by coarse bucket, nearest first, and a bucket
		// is sorted only where order matters: not in the rest of the window
		// once the nearest nodes that fit are known.
		groups := scratch.group(rows)
		for k := range numCoarse {
			seg := scratch.grouped[groups[k]:groups[k+1]]
			if len(seg) == 0 {
				continue
			}
			if best < 0 || fitting < p.Floor || coarseLow(k+1)-1 > limit {
				slices.Sort(seg)
			}
			for _, packed := range seg {
				r := rowRTT{row: int32(packed), rtt: int32(packed >> 32)}
				if best < 0 {
					best, limit = r.rtt, r.rtt+int32(p.Window(int64(r.rtt)))
				}
				if r.rtt > limit && enough(r.rtt) {
					return out, true
				}
				nodes := p.RowNodes(r.row)
				var locs []int32
				if p.RowLocations != nil {
					locs = p.RowLocations(r.row)
				}
				for i, n := range nodes {
					c := Candidate{n, r.row, r.rtt, -1}
					if len(locs) == len(nodes) {
						c.Location = locs[i]
					}
					if r.rtt <= limit && fitting >= p.Floor {
						// The rest of the window stays whatever the test says,
						// and the nearest that fit are known: skip it.
						out = append(out, c)
						continue
					}
					fits := p.Fits(n)
					if r.rtt <= limit || fits {
						// The window's nodes stay whether they fit or not.
						out = append(out, c)
					}
					if fits {
						fitting++
						if bestFit < 0 || r.rtt < bestFit {
							bestFit = r.rtt
						}
					}
				}
			}
		}
		if hi >= worst {
			return out, best >= 0 && enough(math.MaxInt32)
		}
		if best >= 0 && hi >= limit && enough(hi+1) {
			return out, true // every row left is further out than hi
		}
		// Further out: past the window if it is not yet held, and twice as
		// many rows as the last cut was meant to hold.
		want *= 2
		lo, hi = hi, max(guess.cut(limit, want), hi+1)
	}
}

// Scratch is a Pick's working memory, reusable from one Pick to the next.
type Scratch struct {
	rows, grouped []uint64
}

// group copies packed rows into grouped, ordered by coarse bucket (a
// counting sort), and returns where each bucket starts.
func (s *Scratch) group(rows []uint64) *[numCoarse + 1]int32 {
	var starts [numCoarse + 1]int32
	for _, packed := range rows {
		starts[coarse(int32(packed>>32))+1]++
	}
	for k := 1; k <= numCoarse; k++ {
		starts[k] += starts[k-1]
	}
	s.grouped = slices.Grow(s.grouped[:0], len(rows))[:len(rows)]
	next := starts
	for _, packed := range rows {
		k := coarse(int32(packed >> 32))
		s.grouped[next[k]] = packed
		next[k]++
	}
	return &starts
}

// rowSample is a strided sample of the rows' RTTs, counted into coarse
// buckets: enough to guess where to cut, for a fraction of a pass.
type rowSample struct {
	hist   [numCoarse]int32
	stride int
	rows   int   // sampled rows with a known RTT
	best   int32 // the smallest sampled RTT
}

// sampleRows is how many rows the sample reads at most.
const sampleRows = 2048

func (p Picker) sample() rowSample {
	s := p.sampleEvery(max(1, len(p.RTT)/sampleRows))
	if s.rows == 0 && s.stride > 1 {
		// A sparse table whose sampled rows are all unknown: look at every row.
		s = p.sampleEvery(1)
	}
	return s
}

func (p Picker) sampleEvery(stride int) rowSample {
	s := rowSample{stride: stride, best: -1}
	for i := 0; i < len(p.RTT); i += stride {
		if v := p.RTT[i]; v >= 0 {
			s.hist[coarse(v)]++
			s.rows++
			if s.best < 0 || v < s.best {
				s.best = v
			}
		}
	}
	return s
}

// cut returns the RTT up to which, by the sample, the rows hold past limit
// and number at least want; MaxInt32 if the sample has too few.
func (s *rowSample) cut(limit int32, want int) int32 { // pointer: the histogram is 648 bytes
	have := 0
	for k := range numCoarse - 1 {
		have += int(s.hist[k]) * s.stride
		if coarseLow(k+1) > limit && have >= want {
			return coarseLow(k+1) - 1
		}
	}
	return math.MaxInt32
}

// Coarse RTT buckets, for counting: 250us wide up to 16.4ms, then eight to
// a doubling, up to a minute.
const (
	linearBuckets = 66 // [0, 16.5ms) in 250us steps; 2^14us starts the rest
	numCoarse     = linearBuckets + 8*(26-14)
)

func coarse(v int32) int {
	if v < 1<<14 {
		return int(v) / 250
	}
	b := bits.Len32(uint32(v)) - 1
	k := linearBuckets + (b-14)*8 + int(uint32(v)>>(b-3)&7)
	return min(k, numCoarse-1)
}

// coarseLow is the lowest RTT of bucket k.
func coarseLow(k int) int32 {
	if k < linearBuckets {
		return int32(k * 250)
	}
	if k >= numCoarse {
		return math.MaxInt32
	}
	j := k - linearBuckets
	b := 14 + j/8
	return int32((8 + j%8) << (b - 3))
}

// Admission is a cheap test of whether a node can take a pod, from the
// scheduler snapshot's NodeInfo: the checks of NodeUnschedulable,
// NodeResourcesFit, TaintToleration and NodeAffinity's required terms.
type Admission struct {
	nodes                 fwk.NodeInfoLister
	cpu, memory, storage  int64
	scalar                v1.ResourceList
	tolerations           []v1.Toleration
	tolerateUnschedulable bool
	affinity              nodeMatcher
	comparisonOperators   bool
	logger                klog.Logger
	// Locality's constraints, judged once per distinct location of the
	// network map (0: not yet, 1: allowed, 2: not).
	in    *intent.Intent
	view  netmap.View
	where []int8
}

var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// NewAdmission prepares the test for a pod, on the scheduler snapshot's
// nodes; in and view, when in has location constraints, add Locality's.
func NewAdmission(logger klog.Logger, pod *v1.Pod, nodes fwk.NodeInfoLister, in *intent.Intent, view netmap.View) *Admission {
	req := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	a := &Admission{
		nodes:               nodes,
		cpu:                 req.Cpu().MilliValue(),
		memory:              req.Memory().Value(),
		storage:             req.StorageEphemeral().Value(),
		tolerations:         pod.Spec.Tolerations,
		affinity:            newNodeMatcher(pod),
		comparisonOperators: utilfeature.DefaultFeatureGate.Enabled(features.TaintTolerationComparisonOperators),
		logger:              logger,
	}
	if in != nil && in.HasLocation() {
		a.in, a.view, a.where = in, view, make([]int8, view.NumLocations())
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

// Admits says whether the node can take the pod, as far as this test tells.
func (a *Admission) Admits(name string) bool {
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
	return a.affinity.matches(node) && a.placeAllowed(node)
}

// placeAllowed applies the pod's carrier, province and node-type
// constraints (Locality's Filter) to the node's location.
func (a *Admission) placeAllowed(node *v1.Node) bool {
	if a.in == nil {
		return true
	}
	ref, ok := a.view.Node(node.Name)
	if !ok {
		return a.in.LocationViolation(topology.FromLabels(node.Labels)) == ""
	}
	if a.where[ref.Location] == 0 {
		a.where[ref.Location] = 2
		if a.in.LocationViolation(a.view.Location(ref.Location)) == "" {
			a.where[ref.Location] = 1
		}
	}
	return a.where[ref.Location] == 1
}

// nodeMatcher is a pod's required node selector and affinity, matched
// against node labels without the per-node allocation of the general
// matcher, which it falls back to for terms on node fields.
type nodeMatcher struct {
	selector labels.Selector   // spec.nodeSelector; nil: none
	terms    []labels.Selector // ORed; nil: no required affinity
	general  *nodeaffinity.RequiredNodeAffinity
}

func newNodeMatcher(pod *v1.Pod) nodeMatcher {
	var m nodeMatcher
	if len(pod.Spec.NodeSelector) > 0 {
		m.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return m
	}
	m.terms = []labels.Selector{}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(t.MatchFields) > 0 {
			general := nodeaffinity.GetRequiredNodeAffinity(pod)
			return nodeMatcher{general: &general}
		}
		m.terms = append(m.terms, termSelector(t.MatchExpressions))
	}
	return m
}

// termSelector converts a term's expressions to a label selector; an empty
// or invalid term matches nothing, as for the scheduler.
func termSelector(reqs []v1.NodeSelectorRequirement) labels.Selector {
	if len(reqs) == 0 {
		return labels.Nothing()
	}
	ops := map[v1.NodeSelectorOperator]selection.Operator{
		v1.NodeSelectorOpIn: selection.In, v1.NodeSelectorOpNotIn: selection.NotIn,
		v1.NodeSelectorOpExists: selection.Exists, v1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
		v1.NodeSelectorOpGt: selection.GreaterThan, v1.NodeSelectorOpLt: selection.LessThan,
	}
	sel := labels.NewSelector()
	for _, r := range reqs {
		op, ok := ops[r.Operator]
		if !ok {
			return labels.Nothing()
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return labels.Nothing()
		}
		sel = sel.Add(*req)
	}
	return sel
}

func (m nodeMatcher) matches(node *v1.Node) bool {
	if m.general != nil {
		ok, _ := m.general.Match(node)
		return ok
	}
	set := labels.Set(node.Labels)
	if m.selector != nil && !m.selector.Matches(set) {
		return false
	}
	if m.terms == nil {
		return true
	}
	for _, t := range m.terms {
		if t.Matches(set) {
			return true
		}
	}
	return false
}

// ClaimsVolumes says whether the pod mounts persistent volume claims:
// VolumeBinding may then fix its candidates to the nodes a volume is
// pinned to, which narrowing could miss.
func ClaimsVolumes(pod *v1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return true
		}
	}
	return false
}

// PinnedByName says whether the pod's required node affinity names its
// nodes (matchFields metadata.name in every term), as DaemonSet pods' does:
// NodeAffinity's PreFilter then fixes the candidates, and narrowing them
// further could leave none.
func PinnedByName(pod *v1.Pod) bool {
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
