package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// A Deployment of 3 replicas whose users are in three distant groups ends
// with one replica near each group, although a "middle" node, moderately
// close to all three, is the best single place.
func TestReplicasCoverDemandAreas(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	groups := []string{"lm-north", "lm-west", "lm-south"}
	for _, g := range groups {
		f.landmark(g)
	}
	near := map[string]string{"lm-north": "cov-north", "lm-west": "cov-west", "lm-south": "cov-south"}
	for _, g := range groups {
		n := f.node(near[g], 8, nil)
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
	middle := f.node("cov-middle", 8, nil)
	f.publish(middle, rtt{landmark: "lm-north", p90: 15 * time.Millisecond},
		rtt{landmark: "lm-west", p90: 15 * time.Millisecond}, rtt{landmark: "lm-south", p90: 15 * time.Millisecond})
	f.syncMeasurements()

	labels := map[string]string{"app": "cdn-cache"}
	template := newPod(f.ns, "", demand("lm-north,lm-west,lm-south", ""), 100)
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
