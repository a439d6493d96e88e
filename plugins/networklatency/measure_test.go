package networklatency

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned/fake"
	"github.com/edgeplace/edgeplace/pkg/ondemand"
)

// TestWaitingSLOPodAsksToMeasure: a pod whose SLO no node's measurements
// admit asks the nodes that lack a measurement of its landmark to measure
// it, and not the node measured beyond the SLO.
func TestWaitingSLOPodAsksToMeasure(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{
		"far":  {"hz": 30_000},
		"half": {"sh": 5_000},
	})
	m.SetNode("fresh", nil) // no NodeNetwork at all
	m.Flush()
	pl, _ := newPlugin(t, m)
	edge := fake.NewSimpleClientset()
	pl.measure = ondemand.New(edge, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pl.measure.Run(ctx)

	_, st := pl.PreFilter(ctx, framework.NewCycleState(), testPod("p", demand("hz", "10ms")), nil)
	require.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code(), st.Message())
	var asked []string
	require.Eventually(t, func() bool {
		asked = nil
		for _, a := range edge.Actions() {
			if a.GetVerb() == "patch" {
				asked = append(asked, a.(interface{ GetName() string }).GetName())
			}
		}
		slices.Sort(asked)
		return len(asked) >= 2
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"fresh", "half"}, asked)
}

func demand(landmarks, slo string) map[string]string {
	a := map[string]string{v1alpha1.DemandAnnotation: landmarks}
	if slo != "" {
		a[v1alpha1.MaxRTTAnnotation] = slo
	}
	return a
}
