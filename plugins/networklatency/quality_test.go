package networklatency

import (
	"context"
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
	for _, tc := range []struct {
		name, maxRTT, maxLoss, maxJitter string
		want                             string // "": PreFilter succeeds
	}{
		{name: "within the SLO only the lossy node", maxRTT: "9.2ms", maxLoss: "1%", want: "no node within 9.2ms p90 loses at most 1.00% of probes to hz; best is node lossy at 2.00%"},
		{name: "the clean node meets the loss bound", maxLoss: "0.5%"},
		{name: "no node meets the jitter bound", maxJitter: "0.1ms", want: "no node has at most 100µs of jitter to hz; best is"},
		{name: "loss met, jitter not", maxLoss: "0.01%", maxJitter: "0.1ms", want: "jitter to hz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := map[string]string{v1alpha1.DemandAnnotation: "hz"}
			if tc.maxRTT != "" {
				a[v1alpha1.MaxRTTAnnotation] = tc.maxRTT
			}
			if tc.maxLoss != "" {
				a[v1alpha1.MaxLossAnnotation] = tc.maxLoss
			}
			if tc.maxJitter != "" {
				a[v1alpha1.MaxJitterAnnotation] = tc.maxJitter
			}
			_, st := pl.PreFilter(context.Background(), framework.NewCycleState(), testPod("p", a), nil)
			if tc.want == "" {
				assert.True(t, st.IsSuccess(), st.Message())
				return
			}
			assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
			assert.Contains(t, st.Message(), tc.want)
		})
	}
}
