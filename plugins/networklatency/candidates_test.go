package networklatency

import (
	"context"
	"fmt"
	"testing"

	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/util/workqueue"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
)

func node(name string, cpu string, mutate ...func(*v1.Node)) *v1.Node {
	n := st.MakeNode().Name(name).Label("type", "ens").Capacity(map[v1.ResourceName]string{v1.ResourceCPU: cpu, v1.ResourceMemory: "8Gi", v1.ResourcePods: "10"}).Obj()
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
	pod := podRequesting("p", "1", map[string]string{v1alpha1.DemandAnnotation: "hz"})
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

	claims := pod.DeepCopy()
	claims.Spec.Volumes = []v1.Volume{{Name: "cache", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "cache"}}}}
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), claims, nil)
	require.True(t, st.IsSuccess())
	assert.Nil(t, res, "a pod with a volume claim keeps VolumeBinding's say on its nodes: every node")

	// No node is labelled with a carrier, so an allow-list of carriers
	// admits none: only the window is left, where preemption would look.
	telecom := podRequesting("telecom", "1", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.CarriersAnnotation: "telecom"})
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), telecom, nil)
	require.True(t, st.IsSuccess())
	assert.ElementsMatch(t, []string{"n00", "n01", "n02"}, res.NodeNames.UnsortedList(), "Locality's constraints are part of the cheap test")

	slo := podRequesting("slo", "1", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "20ms"})
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
	pod := podRequesting("p", "1", map[string]string{v1alpha1.DemandAnnotation: "hz"})
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
	pod := podRequesting("p", "1", map[string]string{v1alpha1.DemandAnnotation: "hz"})
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
	pod := podRequesting("p", "1", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	res, st := pl.PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	require.NotNil(t, res)
	assert.ElementsMatch(t, []string{"n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09"}, res.NodeNames.UnsortedList(),
		"no node has a fresh RTT: the nodes that can take the pod")

	full := podRequesting("big", "5", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), full, nil)
	require.True(t, st.IsSuccess())
	assert.Nil(t, res, "no node can take it anywhere: every node, rather than none")
}
