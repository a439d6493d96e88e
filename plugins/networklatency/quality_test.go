package networklatency

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// lossyCluster: "clean" 10 ms, "lossy" 9 ms with 2% loss, "jittery" 9.5 ms
// with 8 ms of jitter, all to landmark hz.
func lossyCluster() *netmap.Map {
	m := netmap.New()
	m.SetLandmark("hz")
	for node, e := range map[string]v1alpha1.LandmarkRTT{
		"clean":   {RTTP50Microseconds: 10_000, JitterMicroseconds: 500},
		"lossy":   {RTTP50Microseconds: 9_000, LossPartsPerMillion: 20_000, JitterMicroseconds: 500},
		"jittery": {RTTP50Microseconds: 9_500, JitterMicroseconds: 8_000},
	} {
		m.SetNode(node, nil)
		e.Landmark, e.RTTP90Microseconds, e.Samples = "hz", e.RTTP50Microseconds, 20
		e.ObservedTime = metav1.NewTime(now.Add(-time.Minute))
		m.SetNodeNetwork(&v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: node},
			Status: v1alpha1.NodeNetworkStatus{Landmarks: []v1alpha1.LandmarkRTT{e}}})
	}
	m.SetState(netmap.Ready)
	m.Flush()
	return m
}

func TestLossAndJitterBounds(t *testing.T) {
	pl, _ := newPlugin(t, lossyCluster())
	ctx := context.Background()
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxLossAnnotation: "1%", v1alpha1.MaxJitterAnnotation: "5ms"})
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(ctx, cs, pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	assert.True(t, pl.Filter(ctx, cs, pod, nodeInfo("clean")).IsSuccess())
	assert.Equal(t, ReasonOverLoss, pl.Filter(ctx, cs, pod, nodeInfo("lossy")).Message())
	assert.Equal(t, ReasonOverJitter, pl.Filter(ctx, cs, pod, nodeInfo("jittery")).Message())
	assert.Equal(t, ReasonNoMeasurement, pl.Filter(ctx, cs, pod, nodeInfo("never-measured")).Message())
}

// Without bounds, Score ranks by the effective RTT: the 9 ms path that
// loses 2% (effective 10.8 ms) scores below the clean 10 ms one.
func TestLossRanksBehind(t *testing.T) {
	pl, _ := newPlugin(t, lossyCluster())
	scores, st := scoreAll(t, pl, testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz"}), []string{"clean", "lossy", "jittery"})
	require.True(t, st.IsSuccess(), st.Message())
	assert.Greater(t, scores["jittery"], scores["clean"], "jitter alone costs nothing in the score")
	assert.Greater(t, scores["clean"], scores["lossy"])
}

// A bound no node meets is refused in PreFilter, with the best on offer.
func TestNoNodeMeetsTheLossBound(t *testing.T) {
	pl, _ := newPlugin(t, lossyCluster())
	for annotations, want := range map[string]string{
		"0.5%|":  "no node loses at most 0.50% of probes to hz; best is clean at 0.00%",
		"|0.1ms": "no node has at most 100µs of jitter to hz; best is",
	} {
		loss, jitter, _ := strings.Cut(annotations, "|")
		a := map[string]string{v1alpha1.DemandAnnotation: "hz"}
		if loss != "" {
			a[v1alpha1.MaxLossAnnotation] = loss
		}
		if jitter != "" {
			a[v1alpha1.MaxJitterAnnotation] = jitter
		}
		_, st := pl.PreFilter(context.Background(), framework.NewCycleState(), testPod("p", a), nil)
		if loss != "" {
			assert.True(t, st.IsSuccess(), "the clean node meets 0.5%%: %s", st.Message())
			continue
		}
		assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
		assert.Contains(t, st.Message(), want)
	}
	a := map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxLossAnnotation: "0.01%", v1alpha1.MaxJitterAnnotation: "0.1ms"}
	_, st := pl.PreFilter(context.Background(), framework.NewCycleState(), testPod("p", a), nil)
	assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
	assert.Contains(t, st.Message(), "jitter to hz", "the clean node meets the loss bound, none the jitter one")
}
