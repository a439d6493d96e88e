package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Fifty pods, created at once, each stating 100 Mbps of egress, on three
// nodes of 1000 Mbps: at most ten fit on each, and no node is overfilled.
func TestEgressCapacityUnderConcurrency(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	for i := range 3 {
		n := f.node(fmt.Sprintf("bw-%d", i), 64, nil)
		f.publishEgress(n, 1000, "zone-a")
	}
	f.syncMeasurements()
	// The barrier node carries no capacity figure: keep these pods off it.
	f.cordonBarrier()

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPod(f.ns, fmt.Sprintf("stream-%02d", i), map[string]string{"edgeplace.io/egress": "100M"}, 10)
			_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()

	// Wait until every pod is either bound or reported unschedulable.
	var perNode map[string]int
	var pending int
	err := wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := f.e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		perNode, pending = map[string]int{}, 0
		settled := 0
		for _, p := range pods.Items {
			switch {
			case p.Spec.NodeName != "":
				perNode[p.Spec.NodeName]++
				settled++
			case unschedulable(&p):
				pending++
				settled++
			}
		}
		return settled == 50 && len(perNode) > 0, nil
	})
	require.NoError(t, err, "bound %v, pending %d", perNode, pending)
	total := 0
	for node, n := range perNode {
		assert.LessOrEqual(t, n*100, 1000, "node %s carries %d Mbps of 1000", node, n*100)
		total += n
	}
	assert.Equal(t, 30, total, "every node filled to its capacity: %v", perNode)
	assert.Equal(t, 20, pending)
}

func unschedulable(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
			return true
		}
	}
	return false
}
