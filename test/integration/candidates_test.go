package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// The tests of latency-guided candidates: the shipped profile evaluates a
// pod on the nodes near its users (at least minCandidates, 100, of them
// that can take it), and must still place it, without needless
// preemption, when those nodes turn it down.

// lineOfNodes creates n nodes of 4 CPUs named <prefix>-NNN, measured to lm
// at first, first+step, first+2*step...; shape may change node i before it
// is created. It returns them nearest first.
func (f *fixture) lineOfNodes(lm string, n int, first, step time.Duration, shape func(i int, n *v1.Node)) []*v1.Node {
	f.t.Helper()
	nodes := make([]*v1.Node, n)
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				nodes[i], errs[i] = f.createMeasuredNode(fmt.Sprintf("%s-%03d", f.prefix, i), lm, first+time.Duration(i)*step, i, shape)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		require.NoError(f.t, err)
	}
	return nodes
}

func (f *fixture) createMeasuredNode(name, lm string, d time.Duration, i int, shape func(int, *v1.Node)) (*v1.Node, error) {
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("4"),
		v1.ResourceMemory: resource.MustParse("32Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: f.testLabel()},
		Status: v1.NodeStatus{Capacity: capacity, Allocatable: capacity,
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	}
	if shape != nil {
		shape(i, n)
	}
	created, err := f.e.kube.CoreV1().Nodes().Create(f.ctx, n, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	created.Status = n.Status
	if created, err = f.e.kube.CoreV1().Nodes().UpdateStatus(f.ctx, created, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	api := f.e.edge.EdgeplaceV1alpha1().NodeNetworks()
	nn, err := api.Create(f.ctx, &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: f.testLabel(),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: name, UID: created.UID}},
	}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	us := d.Microseconds()
	nn.Status.Landmarks = []v1alpha1.LandmarkRTT{{Landmark: lm, RTTP50Microseconds: us * 9 / 10, RTTP90Microseconds: us,
		Samples: 30, ObservedTime: metav1.NewTime(time.Now())}}
	_, err = api.UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
	return created, err
}

// occupy binds a pod of the given priority class to a node, as if it ran
// there, holding cpu (and a host port, if not 0).
func (f *fixture) occupy(node, name, priorityClass string, milliCPU int64, hostPort int32) *v1.Pod {
	f.t.Helper()
	p := newPod(f.ns, name, nil, milliCPU)
	p.Spec.NodeName = node
	p.Spec.PriorityClassName = priorityClass
	if hostPort != 0 {
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: hostPort, HostPort: hostPort, Protocol: v1.ProtocolTCP}}
	}
	created, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(f.t, err)
	return created
}

// priorityClass creates a cluster-wide priority class for the test.
func (f *fixture) priorityClass(suffix string, value int32) string {
	f.t.Helper()
	name := f.prefix + "-" + suffix
	_, err := f.e.kube.SchedulingV1().PriorityClasses().Create(f.ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: f.testLabel()}, Value: value,
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
	f.t.Cleanup(func() {
		_ = f.e.kube.SchedulingV1().PriorityClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// untouched asserts that none of the pods has been deleted or marked for
// deletion.
func (f *fixture) untouched(pods []*v1.Pod) {
	f.t.Helper()
	for _, p := range pods {
		got, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, p.Name, metav1.GetOptions{})
		require.NoError(f.t, err, "pod %s was preempted", p.Name)
		require.Nil(f.t, got.DeletionTimestamp, "pod %s was preempted", p.Name)
	}
}

// The 50 nearest nodes are full: the pod binds to the nearest node with
// room, in its first attempt.
func TestNearestWithRoomWhenNearNodesFull(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-full")
	nodes := f.lineOfNodes("lm-full", 160, 10*time.Millisecond, time.Millisecond, nil)
	for i := range 50 {
		f.occupy(nodes[i].Name, fmt.Sprintf("load-%d", i), "", 4000, 0)
	}
	f.syncMeasurements()
	f.cordonBarrier()

	start := time.Now()
	f.pod("app", demand("lm-full", ""), 1000)
	got := f.waitBound("app", waitTimeout)
	elapsed := time.Since(start)
	require.Equal(t, nodes[50].Name, got, "the nearest node with room")
	require.Less(t, elapsed, 2*time.Second, "bound in its first attempt")
}

// The nodes nearest the users hold lower-priority pods that use the host
// port the pod needs, which the cheap test of PreFilter does not look at:
// every candidate turns the pod down. Nodes further out are free. The pod
// binds to the nearest of them by its next attempt, and nothing is
// preempted.
func TestSpillsOutwardWithoutPreempting(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	low, high := f.priorityClass("low", 10), f.priorityClass("high", 1000)
	f.landmark("lm-ports")
	nodes := f.lineOfNodes("lm-ports", 120, 10*time.Millisecond, 500*time.Microsecond, nil)
	var holders []*v1.Pod
	for i := range 100 {
		holders = append(holders, f.occupy(nodes[i].Name, fmt.Sprintf("port-%d", i), low, 100, 8080))
	}
	f.syncMeasurements()
	f.cordonBarrier()

	p := newPod(f.ns, "app", demand("lm-ports", ""), 500)
	p.Spec.PriorityClassName = high
	p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: v1.ProtocolTCP}}
	_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, nodes[100].Name, f.waitBound("app", 10*time.Second), "the nearest node that takes the pod as it is")
	f.untouched(holders)
}

// Every node in the score window is tainted, or excluded by the pod's node
// affinity: the pod binds to the nearest node that admits it.
func TestWindowTaintedOrExcluded(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-taint")
	nodes := f.lineOfNodes("lm-taint", 150, 10*time.Millisecond, 200*time.Microsecond, func(i int, n *v1.Node) {
		n.Labels["edgeplace.io/node-type"] = "ens"
		switch {
		case i < 30:
			n.Spec.Taints = []v1.Taint{{Key: "edgeplace.io/maintenance", Effect: v1.TaintEffectNoSchedule}}
		case i < 60:
			n.Labels["edgeplace.io/node-type"] = "cdn"
		}
	})
	f.syncMeasurements()
	f.cordonBarrier()

	f.pod("tolerates-nothing", demand("lm-taint", ""), 100)
	assert.Equal(t, nodes[30].Name, f.waitBound("tolerates-nothing", waitTimeout), "the nearest untainted node")

	p := newPod(f.ns, "wants-cdn", demand("lm-taint", ""), 100)
	p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{
			Key: "edgeplace.io/node-type", Operator: v1.NodeSelectorOpIn, Values: []string{"cdn"},
		}}}},
	}}}
	_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, nodes[30].Name, f.waitBound("wants-cdn", waitTimeout), "the nearest node its affinity admits")
}

// A pod pinned to one far node by matchFields metadata.name, as a
// DaemonSet's pods are, binds there: narrowing never empties NodeAffinity's
// candidates.
func TestPinnedToFarNode(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-pin")
	nodes := f.lineOfNodes("lm-pin", 150, 10*time.Millisecond, time.Millisecond, nil)
	f.syncMeasurements()
	f.cordonBarrier()

	far := nodes[len(nodes)-1].Name
	p := newPod(f.ns, "daemon", demand("lm-pin", ""), 100)
	p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: v1.NodeSelectorOpIn, Values: []string{far},
		}}}},
	}}}
	_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, far, f.waitBound("daemon", waitTimeout))
}

// No node anywhere takes the pod without preemption. The near nodes hold
// lower-priority pods, and so do two far nodes, whose pods have the lowest
// priority of all: DefaultPreemption alone would evict there. The profile
// preempts within the score window, where the pod wants to be.
func TestPreemptsNearWhenNothingFits(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lowest, low, high := f.priorityClass("lowest", 1), f.priorityClass("low", 10), f.priorityClass("high", 1000)
	f.landmark("lm-preempt")
	nodes := f.lineOfNodes("lm-preempt", 6, 5*time.Millisecond, 400*time.Microsecond, nil)
	near, far := nodes[:4], nodes[4:]
	for i, n := range far {
		f.publish(n, rtt{landmark: "lm-preempt", p90: time.Duration(50+i) * time.Millisecond})
	}
	var nearPods, farPods []*v1.Pod
	for i, n := range near {
		nearPods = append(nearPods, f.occupy(n.Name, fmt.Sprintf("near-%d", i), low, 4000, 0))
	}
	for i, n := range far {
		farPods = append(farPods, f.occupy(n.Name, fmt.Sprintf("far-%d", i), lowest, 4000, 0))
	}
	f.syncMeasurements()
	f.cordonBarrier()

	p := newPod(f.ns, "urgent", demand("lm-preempt", ""), 2000)
	p.Spec.PriorityClassName = high
	_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	var nominated string
	err = wait.PollUntilContextTimeout(f.ctx, 50*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := f.e.kube.CoreV1().Pods(f.ns).Get(ctx, "urgent", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		nominated = got.Status.NominatedNodeName
		return nominated != "", nil
	})
	require.NoError(t, err, "the pod was never nominated (%s)", f.condition("urgent"))
	names := func(ns []*v1.Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Name)
		}
		return out
	}
	require.True(t, slices.Contains(names(near), nominated), "preempts within the window: nominated %s, near %v", nominated, names(near))
	victim := nearPods[slices.IndexFunc(nearPods, func(p *v1.Pod) bool { return p.Spec.NodeName == nominated })]
	err = wait.PollUntilContextTimeout(f.ctx, 50*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := f.e.kube.CoreV1().Pods(f.ns).Get(ctx, victim.Name, metav1.GetOptions{})
		return err != nil || got.DeletionTimestamp != nil, nil
	})
	require.NoError(t, err, "the near pod on %s was never preempted", nominated)
	f.untouched(farPods)
	others := 0
	for _, v := range nearPods {
		if v.Spec.NodeName != nominated {
			f.untouched([]*v1.Pod{v})
			others++
		}
	}
	assert.Equal(t, 3, others, "only the nominated node's pod makes room")
}
