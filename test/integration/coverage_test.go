package integration

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// A Deployment of 3 replicas whose users are in three distant groups ends
// with one replica near each group, although a "middle" node, moderately
// close to all three, is the best single place.
func TestReplicasCoverDemandAreas(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	landmarks, _ := f.demandAreas("cov")

	labels := map[string]string{"app": "cdn-cache"}
	template := newPod(f.ns, "", demand(landmarks, ""), 100)
	_, err := f.e.kube.AppsV1().Deployments(f.ns).Create(f.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cdn-cache"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: template.Annotations},
				Spec:       template.Spec,
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	var nodes []string
	err = wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := f.e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=cdn-cache"})
		if err != nil {
			return false, err
		}
		nodes = nodes[:0]
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				nodes = append(nodes, p.Spec.NodeName)
			}
		}
		return len(nodes) == 3, nil
	})
	require.NoError(t, err, "three replicas bound; got %v", nodes)
	assert.ElementsMatch(t, []string{"cov-north", "cov-west", "cov-south"}, nodes)
}

// demandAreas makes three landmarks in distant groups, a node 3 ms from
// each group and 40 ms from the others, and a "middle" node 15 ms from all
// three, all named from prefix. It returns the demand's landmarks and the
// three groups' nodes.
func (f *fixture) demandAreas(prefix string) (string, []string) {
	f.t.Helper()
	var groups, near []string
	for _, g := range []string{"north", "west", "south"} {
		groups = append(groups, prefix+"-lm-"+g)
		near = append(near, prefix+"-"+g)
	}
	for _, g := range groups {
		f.landmark(g)
	}
	for i, g := range groups {
		n := f.node(near[i], 8, nil)
		var m []rtt
		for _, other := range groups {
			d := 40 * time.Millisecond
			if other == g {
				d = 3 * time.Millisecond
			}
			m = append(m, rtt{landmark: other, p90: d})
		}
		f.publish(n, m...)
	}
	middle := f.node(prefix+"-middle", 8, nil)
	var m []rtt
	for _, g := range groups {
		m = append(m, rtt{landmark: g, p90: 15 * time.Millisecond})
	}
	f.publish(middle, m...)
	f.syncMeasurements()
	return strings.Join(groups, ","), near
}

// TestEvictedReplicaRefillsItsSlot: evicting one replica of a workload
// whose replicas cover three groups puts the replacement back near the
// group it served, while the evicted pod is still terminating on that node
// (no kubelet runs here to let it go, as a real one takes its grace
// period), not on the middle node or another group's.
func TestEvictedReplicaRefillsItsSlot(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	landmarks, near := f.demandAreas("refill")
	labels := map[string]string{"app": "refill"}
	template := newPod(f.ns, "", demand(landmarks, ""), 100)
	_, err := f.e.kube.AppsV1().ReplicaSets(f.ns).Create(f.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "refill"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: template.Annotations}, Spec: template.Spec},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	// live polls for three bound replicas not being deleted and returns
	// them by pod name, with the pods being deleted.
	live := func(ok func(map[string]string) bool) (map[string]string, map[string]string) {
		var bound, deleting map[string]string
		err := wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
			pods, err := f.e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=refill"})
			if err != nil {
				return false, err
			}
			bound, deleting = map[string]string{}, map[string]string{}
			for _, p := range pods.Items {
				switch {
				case p.DeletionTimestamp != nil:
					deleting[p.Name] = p.Spec.NodeName
				case p.Spec.NodeName != "":
					bound[p.Name] = p.Spec.NodeName
				}
			}
			return len(bound) == 3 && ok(bound), nil
		})
		require.NoError(t, err, "three replicas bound; have %v, being deleted %v", bound, deleting)
		return bound, deleting
	}
	first, _ := live(func(map[string]string) bool { return true })
	require.ElementsMatch(t, near, slices.Collect(maps.Values(first)))

	var evicted string
	for pod, node := range first {
		if node == near[1] {
			evicted = pod
		}
	}
	require.NoError(t, f.e.kube.PolicyV1().Evictions(f.ns).Evict(f.ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: evicted, Namespace: f.ns},
	}))
	after, deleting := live(func(bound map[string]string) bool {
		_, still := bound[evicted]
		return !still
	})
	assert.ElementsMatch(t, near, slices.Collect(maps.Values(after)), "the replacement goes back to %s", near[1])
	assert.Equal(t, map[string]string{evicted: near[1]}, deleting, "the evicted replica was still terminating on its node")
}
