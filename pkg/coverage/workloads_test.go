package coverage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/utils/ptr"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/netmaptest"
)

// TestPlanFollowsADegradedSlot: a workload's plan is reused while its
// slots' sites stay about as near as they were, and remade when one
// degrades beyond the score window, so that the replica the rebalancer
// moves off it is placed for where its users are best served now.
func TestPlanFollowsADegradedSlot(t *testing.T) {
	now := time.Now()
	ms := func(v int64) netmaptest.RTT { return netmaptest.RTT{P50: v, P90: v} }
	m := netmaptest.Sites(now, map[string]v1alpha1.Location{"north": {}, "south": {}},
		map[string]map[string]netmaptest.RTT{
			"n":  {"north": ms(5), "south": ms(60)},
			"s":  {"north": ms(60), "south": ms(5)},
			"n2": {"north": ms(8), "south": ms(60)},
		})
	w := &Workloads{plans: map[types.UID]*WorkloadPlan{}}
	demand := func() Demand {
		view := m.Current().View(now, time.Hour)
		north, _ := view.Landmark("north")
		south, _ := view.Landmark("south")
		return Demand{View: view, Landmarks: []int32{north, south}, Weights: []int64{1, 1}, Percentile: netmap.P90, Key: "k",
			Window: func(best float64) float64 { return max(2000, best*15/100) }}
	}
	slotSites := func(p *WorkloadPlan, d Demand) []string {
		var out []string
		for _, row := range p.Slots {
			out = append(out, d.View.RowObject(row))
		}
		return out
	}
	d := demand()
	first := w.Plan("rs", 2, d)
	assert.ElementsMatch(t, []string{"site-n", "site-s"}, slotSites(first, d))

	// site n a millisecond slower: within the window, the plan stands.
	publish(m, now, "n", map[string]int64{"north": 6, "south": 60})
	assert.Same(t, first, w.Plan("rs", 2, demand()))

	// site n degrades towards the north: a new plan, on n2.
	publish(m, now, "n", map[string]int64{"north": 40, "south": 60})
	d = demand()
	second := w.Plan("rs", 2, d)
	require.NotSame(t, first, second)
	assert.ElementsMatch(t, []string{"site-n2", "site-s"}, slotSites(second, d))
}

// TestUnfilledIgnoresReplicasBeingDeleted: an evicted replica stays on
// its node, terminating, while the replacement is placed; the slot it held
// counts as unfilled, so that the replacement goes back to it rather than
// to another slot's users.
func TestUnfilledIgnoresReplicasBeingDeleted(t *testing.T) {
	now := time.Now()
	ms := func(v int64) netmaptest.RTT { return netmaptest.RTT{P50: v, P90: v} }
	m := netmaptest.Sites(now, map[string]v1alpha1.Location{"north": {}, "south": {}},
		map[string]map[string]netmaptest.RTT{
			"n": {"north": ms(5), "south": ms(60)},
			"s": {"north": ms(60), "south": ms(5)},
		})
	view := m.Current().View(now, time.Hour)
	north, _ := view.Landmark("north")
	south, _ := view.Landmark("south")
	w := &Workloads{plans: map[types.UID]*WorkloadPlan{}}
	plan := w.Plan("rs", 2, Demand{View: view, Landmarks: []int32{north, south}, Weights: []int64{1, 1}, Percentile: netmap.P90, Key: "k"})
	northSlot := -1
	for i, row := range plan.Slots {
		if view.RowObject(row) == "site-n" {
			northSlot = i
		}
	}
	require.GreaterOrEqual(t, northSlot, 0, "a slot on site n")

	replica := func(deleting bool) *v1.Pod {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns", UID: "r",
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs", Controller: ptr.To(true)}}},
			Spec: v1.PodSpec{NodeName: "n-0"}}
		if deleting {
			p.DeletionTimestamp = ptr.To(metav1.NewTime(now))
		}
		return p
	}
	nodes := []*v1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n-0"}}, {ObjectMeta: metav1.ObjectMeta{Name: "s-0"}}}
	for _, tc := range []struct {
		name     string
		deleting bool
	}{{"running replica fills its slot", false}, {"replica being deleted does not", true}} {
		t.Run(tc.name, func(t *testing.T) {
			snap := cache.NewSnapshot([]*v1.Pod{replica(tc.deleting)}, nodes)
			unfilled := plan.Unfilled(view, snap.NodeInfos(), "rs")
			assert.Equal(t, tc.deleting, unfilled[northSlot], "north slot unfilled")
			assert.True(t, unfilled[1-northSlot], "south slot unfilled")
		})
	}
}

// publish rewrites a netmaptest site's measurements (ms) and flushes.
func publish(m *netmap.Map, now time.Time, site string, rtts map[string]int64) {
	nn := &v1alpha1.NodeNetwork{
		ObjectMeta: metav1.ObjectMeta{Name: "site-" + site},
		Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site},
	}
	for lm, v := range rtts {
		nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
			Landmark: lm, RTTP50Microseconds: v * 1000, RTTP90Microseconds: v * 1000, Samples: 10, ObservedTime: metav1.NewTime(now),
		})
	}
	m.SetNodeNetwork(nn)
	m.Flush()
}

// TestOwnerReadsAWorkloadTheInformerHasNotSeen: a workload's first
// replicas can reach the scheduler before its informer has the
// ReplicaSet; Owner reads it then, instead of taking the pod for a lone one.
func TestOwnerReadsAWorkloadTheInformerHasNotSeen(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3)}}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-uid", Controller: ptr.To(true)}}}}
	client := kubefake.NewClientset(rs)
	factory := informers.NewSharedInformerFactory(kubefake.NewClientset(), 0) // never started: it has seen nothing

	_, _, ok := NewWorkloads(factory, nil).Owner(pod)
	assert.False(t, ok, "without a client, a workload the informer has not seen is unknown")
	owner, replicas, ok := NewWorkloads(factory, client).Owner(pod)
	require.True(t, ok)
	assert.Equal(t, types.UID("rs-uid"), owner)
	assert.Equal(t, 3, replicas)

	pod.OwnerReferences[0].UID = "another"
	_, _, ok = NewWorkloads(factory, client).Owner(pod)
	assert.False(t, ok, "a ReplicaSet of the same name is not the pod's")
}
