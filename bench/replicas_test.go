package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fwk "k8s.io/kube-scheduler/framework"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// The replicas variant: a ReplicaSet of workloadReplicas pods serving
// replicaLandmarks user populations, placedReplicas of them already bound.
const (
	workloadReplicas = 4
	placedReplicas   = 2
	replicaLandmarks = 8
)

// benchReplicas measures NetworkLatency on the next replica of a workload
// whose first replicas are placed: the path that depends on earlier
// placements. The workload's plan is made once and cached, as in the
// scheduler; each cycle finds the filled slots in the snapshot and scores
// against the landmarks of the unfilled slot that serves the most demand.
// The replicas were placed by the plugin itself, one cycle each, on its
// best-scored node. All replicas share one template, so consecutive pods
// have the same intent, as a Deployment's do.
func benchReplicas(b *testing.B, c *edgeCluster) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replicas := int32(workloadReplicas)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "default", UID: "uid-rs-cache"},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &replicas},
	}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(rs), 0)
	h := &snapshotHandle{snapshot: internalcache.NewSnapshot(nil, c.nodes)}
	args, err := argscheme.NetworkLatencyArgs(nil)
	if err != nil {
		b.Fatal(err)
	}
	pl := newPlugin[*networklatency.NetworkLatency](b, networklatency.New, args, workloadHandle{h, factory}, c.netmap)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	replica := func(i int) *v1.Pod {
		pod := c.pod(fmt.Sprintf("cache-%d", i), "")
		pod.UID = k8stypes.UID(fmt.Sprintf("uid-cache-%d", i))
		pod.Annotations[v1alpha1.DemandAnnotation] = replicaDemand(c)
		controller := true
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller}}
		return pod
	}
	// Place the first replicas where the plugin ranks best, as the
	// scheduler would with nothing else in the profile.
	var placed []*v1.Pod
	for i := range placedReplicas {
		view := c.onSnapshot(b, h.snapshot)
		scores := make(fwk.NodeScoreList, len(view.infos))
		pod := replica(i)
		var t phases
		err := t.cycle(ctx, pl, nil, pod, view, make([]fwk.NodeInfo, 0, len(view.infos)), scores)
		if err != nil || t.feasible == 0 {
			b.Fatalf("placing replica %d: %d feasible, %v", i, t.feasible, err)
		}
		best := scores[0]
		for _, s := range scores[:t.feasible] {
			if s.Score > best.Score {
				best = s
			}
		}
		pod.Spec.NodeName = best.Name
		placed = append(placed, pod)
		h.snapshot = internalcache.NewSnapshot(placed, c.nodes)
	}
	// Without coverage both replicas would go to the same best node.
	if placed[0].Spec.NodeName == placed[1].Spec.NodeName {
		b.Fatalf("replica coverage is off: both replicas went to %s", placed[0].Spec.NodeName)
	}
	// The plugin finds the placed replicas through the handle's snapshot;
	// the cycle walks the same nodes in the cluster's order, as every other
	// plugin's benchmark does (the snapshot's zone-interleaved order alone
	// makes any plugin's walk about 2.5x slower at 10k nodes).
	benchCycle(b, pl, nil, []*v1.Pod{replica(placedReplicas)}, c)
}

// replicaDemand spreads the workload's demand over the first
// replicaLandmarks landmarks, unevenly, so that its slots serve different
// shares.
func replicaDemand(c *edgeCluster) string {
	var parts []string
	for i, lm := range c.landmarks[:min(replicaLandmarks, len(c.landmarks))] {
		parts = append(parts, fmt.Sprintf("%s:%d", lm, 10+5*i))
	}
	return strings.Join(parts, ",")
}

// onSnapshot is the cluster seen through a scheduler snapshot: the same
// nodes and network map, with the snapshot's NodeInfos (and their pods).
func (c *edgeCluster) onSnapshot(b *testing.B, s *internalcache.Snapshot) *edgeCluster {
	infos, err := s.NodeInfos().List()
	if err != nil {
		b.Fatal(err)
	}
	view := *c
	view.infos = infos
	view.byName = make(map[string]fwk.NodeInfo, len(infos))
	for _, ni := range infos {
		view.byName[ni.Node().Name] = ni
	}
	return &view
}
