package networklatency

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
)

// rowsOf builds a picker over one node per row, named after its RTT.
func rowsOf(rtts []int32, full ...int) picker {
	isFull := map[string]bool{}
	for _, i := range full {
		isFull[fmt.Sprintf("r%d", i)] = true
	}
	return picker{
		rtt:      rtts,
		rowNodes: func(row int32) []string { return []string{fmt.Sprintf("r%d", row)} },
		fits:     func(n string) bool { return !isFull[n] },
		window:   func(int64) int64 { return 2_000 },
		floor:    2,
	}
}

func names(cs []candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.node)
	}
	slices.Sort(out)
	return out
}

func TestPick(t *testing.T) {
	for name, tc := range map[string]struct {
		rtts     []int32
		full     []int
		floor    int
		eligible func(int32) bool
		want     []string
		complete bool
	}{
		"the window holds enough": {
			rtts: []int32{1_000, 2_500, 3_000, 9_000, 20_000}, floor: 2,
			want: []string{"r0", "r1", "r2"}, complete: true,
		},
		"widened outward in RTT order until the floor": {
			rtts: []int32{1_000, 30_000, 9_000, 5_000, 7_000}, floor: 3,
			// r0 within the window; r3 (5ms) and r4 (7ms) make three; r2
			// (9ms) is beyond 5ms + the window.
			want: []string{"r0", "r3", "r4"}, complete: true,
		},
		"full nodes in the window stay, full ones beyond are skipped": {
			rtts: []int32{1_000, 1_500, 6_000, 7_000, 8_000, 9_500}, full: []int{0, 1, 2}, floor: 2,
			// r3 is the nearest that fits: everything that fits within its
			// window (to 9ms) is kept.
			want: []string{"r0", "r1", "r3", "r4"}, complete: true,
		},
		"every row within the window of the nearest that fits": {
			rtts: []int32{1_000, 5_000, 5_500, 6_000, 6_900, 7_100}, full: []int{0}, floor: 1,
			want: []string{"r0", "r1", "r2", "r3", "r4"}, complete: true,
		},
		"all unmeasured": {
			rtts: []int32{-1, -1, -1}, floor: 2, complete: false,
		},
		"fewer nodes than the floor": {
			rtts: []int32{1_000, -1, 50_000}, floor: 5,
			want: []string{"r0", "r2"}, complete: false,
		},
		"a window holding the whole cluster": {
			rtts: []int32{1_000, 1_100, 1_200, 2_900}, floor: 2,
			want: []string{"r0", "r1", "r2", "r3"}, complete: true,
		},
		"rows that miss the SLO are never candidates": {
			rtts: []int32{1_000, 1_200, 4_000, 6_000}, floor: 2,
			eligible: func(row int32) bool { return row != 0 && row != 1 },
			want:     []string{"r2", "r3"}, complete: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := rowsOf(tc.rtts, tc.full...)
			p.floor, p.eligible = tc.floor, tc.eligible
			got, complete := p.pick(nil, new([]uint64))
			assert.Equal(t, tc.want, names(got))
			assert.Equal(t, tc.complete, complete)
		})
	}
}

func TestPickSkipsRowsWithoutNodes(t *testing.T) {
	p := rowsOf([]int32{500, 4_000, 4_500})
	p.rowNodes = func(row int32) []string {
		if row == 0 {
			return nil // a freed row
		}
		return []string{fmt.Sprintf("r%d", row)}
	}
	got, complete := p.pick(nil, new([]uint64))
	assert.True(t, complete)
	assert.Equal(t, []string{"r1", "r2"}, names(got), "the window is anchored at the best row that has nodes")
}

func node(name string, cpu string, mutate ...func(*v1.Node)) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"type": "ens"}},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{
			v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("8Gi"), v1.ResourcePods: resource.MustParse("10"),
		}}}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func podRequesting(name, cpu string, annotations map[string]string) *v1.Pod {
	p := testPod(name, annotations)
	p.Spec.Containers = []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}
	return p
}

func TestAdmission(t *testing.T) {
	tainted := func(n *v1.Node) {
		n.Spec.Taints = []v1.Taint{{Key: "edge", Effect: v1.TaintEffectNoSchedule}}
	}
	placed := podRequesting("placed", "3", nil)
	placed.Spec.NodeName = "busy"
	snap := cache.NewSnapshot([]*v1.Pod{placed}, []*v1.Node{
		node("free", "4"),
		node("busy", "4"),
		node("tainted", "4", tainted),
		node("prefer-no", "4", func(n *v1.Node) {
			n.Spec.Taints = []v1.Taint{{Key: "x", Effect: v1.TaintEffectPreferNoSchedule}}
		}),
		node("cordoned", "4", func(n *v1.Node) { n.Spec.Unschedulable = true }),
		node("cdn", "4", func(n *v1.Node) { n.Labels["type"] = "cdn" }),
	})
	pod := podRequesting("p", "2", nil)
	pod.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "type", Operator: v1.NodeSelectorOpIn, Values: []string{"ens"}}}}},
	}}}
	a := newAdmission(klog.Background(), pod, snap.NodeInfos(), nil, netmap.View{})
	for n, want := range map[string]bool{
		"free": true, "busy": false, "tainted": false, "prefer-no": true, "cordoned": false, "cdn": false, "missing": false,
	} {
		assert.Equal(t, want, a.admits(n), n)
	}
	pod.Spec.Tolerations = []v1.Toleration{{Key: "edge", Operator: v1.TolerationOpExists}}
	assert.True(t, newAdmission(klog.Background(), pod, snap.NodeInfos(), nil, netmap.View{}).admits("tainted"), "a tolerated taint")
}

func TestPinnedByName(t *testing.T) {
	pinned := func(terms ...v1.NodeSelectorTerm) *v1.Pod {
		p := testPod("p", nil)
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}}
		return p
	}
	byName := v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n1"}}}}
	byLabel := v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "type", Operator: v1.NodeSelectorOpIn, Values: []string{"ens"}}}}
	assert.True(t, pinnedByName(pinned(byName)))
	assert.False(t, pinnedByName(pinned(byName, byLabel)), "a term without a name admits other nodes")
	assert.False(t, pinnedByName(testPod("p", nil)))
}

// narrowingCluster is 30 nodes n00..n29 at 1, 2, ... 30ms from hz, each
// with 4 CPUs, in a scheduler snapshot the handle serves.
func narrowingCluster(t *testing.T, busy map[string]bool) (*NetworkLatency, *filterHandle) {
	rtts := map[string]map[string]int64{}
	var nodes []*v1.Node
	var pods []*v1.Pod
	for i := range 30 {
		n := fmt.Sprintf("n%02d", i)
		rtts[n] = map[string]int64{"hz": int64(1_000 * (i + 1))}
		nodes = append(nodes, node(n, "4"))
		if busy[n] {
			p := podRequesting("on-"+n, "4", nil)
			p.Spec.NodeName = n
			pods = append(pods, p)
		}
	}
	pl, h := newPlugin(t, cluster(t, rtts))
	fh := &filterHandle{fakeHandle: h, rejects: map[string]bool{}}
	fh.snapshot = cache.NewSnapshot(pods, nodes)
	pl.handle = fh
	pl.args.MinCandidates = 3
	return pl, fh
}

// filterHandle runs "every Filter" as a set of nodes that turn the pod down.
type filterHandle struct {
	*fakeHandle
	rejects map[string]bool
}

func (h *filterHandle) RunFilterPluginsWithNominatedPods(_ context.Context, _ fwk.CycleState, _ *v1.Pod, ni fwk.NodeInfo) *fwk.Status {
	if h.rejects[ni.Node().Name] {
		return fwk.NewStatus(fwk.Unschedulable, "rejected")
	}
	return nil
}

func (h *filterHandle) Parallelizer() fwk.Parallelizer { return sequential{} }

type sequential struct{}

func (sequential) Until(_ context.Context, pieces int, f workqueue.DoWorkPieceFunc, _ string) {
	for i := range pieces {
		f(i)
	}
}

func TestPreFilterNarrows(t *testing.T) {
	pl, _ := narrowingCluster(t, map[string]bool{"n00": true, "n01": true})
	pod := podRequesting("p", "1", map[string]string{intent.DemandAnnotation: "hz"})
	cs := framework.NewCycleState()
	res, st := pl.PreFilter(context.Background(), cs, pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	require.NotNil(t, res)
	// The window of 1ms (to 3ms) holds n00 and n01, both full, and n02, the
	// nearest with room; n03 and n04 are within its window.
	assert.ElementsMatch(t, []string{"n00", "n01", "n02", "n03", "n04"}, res.NodeNames.UnsortedList())
	e, ok := shortlist.Read(cs).Get("n03")
	require.True(t, ok)
	assert.Equal(t, int32(4_000), e.RTT)
	score, _ := pl.Score(context.Background(), cs, pod, nodeInfo("n03"))
	assert.Equal(t, int64(4_000), score)
	score, _ = pl.Score(context.Background(), cs, pod, nodeInfo("n20"))
	assert.Equal(t, int64(21_000), score, "a node outside the list scores from the table")

	pinned := pod.DeepCopy()
	pinned.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n29"}}}}},
	}}}
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), pinned, nil)
	require.True(t, st.IsSuccess())
	assert.Nil(t, res, "a pod pinned to a node by name keeps NodeAffinity's candidates")

	// No node is labelled with a carrier, so an allow-list of carriers
	// admits none: only the window is left, where preemption would look.
	telecom := podRequesting("telecom", "1", map[string]string{intent.DemandAnnotation: "hz", intent.CarriersAnnotation: "telecom"})
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), telecom, nil)
	require.True(t, st.IsSuccess())
	assert.ElementsMatch(t, []string{"n00", "n01", "n02"}, res.NodeNames.UnsortedList(), "Locality's constraints are part of the cheap test")

	slo := podRequesting("slo", "1", map[string]string{intent.DemandAnnotation: "hz", intent.MaxRTTAnnotation: "20ms"})
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), slo, nil)
	require.True(t, st.IsSuccess())
	assert.ElementsMatch(t, []string{"n00", "n01", "n02", "n03", "n04"}, res.NodeNames.UnsortedList(), "the nearest within the SLO, not all of it")
}

func TestPostFilterSpillsOutward(t *testing.T) {
	pl, h := narrowingCluster(t, nil)
	// Every candidate is turned down by something the cheap test does not
	// see; so is n05. n06 is the nearest that takes the pod.
	for _, n := range []string{"n00", "n01", "n02", "n03", "n04", "n05"} {
		h.rejects[n] = true
	}
	pod := podRequesting("p", "1", map[string]string{intent.DemandAnnotation: "hz"})
	ctx := context.Background()
	cs := framework.NewCycleState()
	res, st := pl.PreFilter(ctx, cs, pod, nil)
	require.True(t, st.IsSuccess())
	assert.Equal(t, 3, res.NodeNames.Len(), "n00-n02: the window and the floor")
	statuses := framework.NewDefaultNodeToStatus()
	for n := range res.NodeNames {
		statuses.Set(n, fwk.NewStatus(fwk.Unschedulable, "rejected"))
	}
	_, st = pl.PostFilter(ctx, cs, pod, statuses)
	require.True(t, st.IsSuccess(), "a node further out takes the pod: no preemption")
	assert.Contains(t, st.Message(), "nearest n06")
	assert.Equal(t, []string{"p"}, h.activated, "the pod is retried at once")

	res, st = pl.PreFilter(ctx, framework.NewCycleState(), pod, nil)
	require.True(t, st.IsSuccess())
	assert.True(t, res.NodeNames.HasAll("n06", "n07", "n08"), "its next attempt adds the nearest that take it: %v", res.NodeNames.UnsortedList())
	assert.False(t, res.NodeNames.Has("n09"), "n09 is beyond n06's window and the floor is met")

	res, _ = pl.PreFilter(ctx, framework.NewCycleState(), pod, nil)
	assert.False(t, res.NodeNames.Has("n06"), "the finding is used once")
}

func TestPostFilterLeavesPreemptionToTheCandidates(t *testing.T) {
	pl, h := narrowingCluster(t, nil)
	for i := range 30 {
		h.rejects[fmt.Sprintf("n%02d", i)] = true
	}
	pod := podRequesting("p", "1", map[string]string{intent.DemandAnnotation: "hz"})
	ctx := context.Background()
	cs := framework.NewCycleState()
	res, _ := pl.PreFilter(ctx, cs, pod, nil)

	preemptable := framework.NewDefaultNodeToStatus()
	for n := range res.NodeNames {
		preemptable.Set(n, fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu"))
	}
	_, st := pl.PostFilter(ctx, cs, pod, preemptable)
	assert.Equal(t, fwk.Unschedulable, st.Code(), "no node takes the pod anywhere: DefaultPreemption may preempt among the candidates")
	assert.Empty(t, h.activated)

	unresolvable := framework.NewDefaultNodeToStatus()
	for n := range res.NodeNames {
		unresolvable.Set(n, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "taint"))
	}
	_, st = pl.PostFilter(ctx, cs, pod, unresolvable)
	assert.Equal(t, fwk.Unschedulable, st.Code())
	assert.Equal(t, []string{"p"}, h.activated)
	res, _ = pl.PreFilter(ctx, framework.NewCycleState(), pod, nil)
	assert.Nil(t, res, "preemption cannot help among the candidates: the next attempt sees every node")
}

func TestCoarseBuckets(t *testing.T) {
	prev := 0
	for v := int32(0); v < 70_000_000; v += 1 + v/1000 {
		k := coarse(v)
		require.GreaterOrEqual(t, k, prev, "buckets grow with the RTT (%dus)", v)
		require.LessOrEqual(t, coarseLow(k), v, "bucket %d starts at or below %dus", k, v)
		if k < numCoarse-1 {
			require.Greater(t, coarseLow(k+1), v, "bucket %d ends above %dus", k, v)
		}
		prev = k
	}
}

func TestPreFilterWithoutMeasurements(t *testing.T) {
	rtts := map[string]map[string]int64{}
	var nodes []*v1.Node
	var pods []*v1.Pod
	var stale []string
	for i := range 10 {
		n := fmt.Sprintf("n%02d", i)
		rtts[n] = map[string]int64{"hz": 5_000}
		stale = append(stale, n)
		nodes = append(nodes, node(n, "4"))
		if i < 2 {
			p := podRequesting("on-"+n, "4", nil)
			p.Spec.NodeName = n
			pods = append(pods, p)
		}
	}
	pl, h := newPlugin(t, cluster(t, rtts, stale...))
	h.snapshot = cache.NewSnapshot(pods, nodes)
	pod := podRequesting("p", "1", map[string]string{intent.DemandAnnotation: "hz"})
	res, st := pl.PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	require.NotNil(t, res)
	assert.ElementsMatch(t, []string{"n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09"}, res.NodeNames.UnsortedList(),
		"no node has a fresh RTT: the nodes that can take the pod")

	full := podRequesting("big", "5", map[string]string{intent.DemandAnnotation: "hz"})
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), full, nil)
	require.True(t, st.IsSuccess())
	assert.Nil(t, res, "no node can take it anywhere: every node, rather than none")
}
