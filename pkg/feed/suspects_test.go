package feed

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/component-base/metrics/testutil"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// TestReportSuspects: a measurement that becomes suspect gets one Warning
// event on its NodeNetwork, however often it is written again, and the
// gauge counts it until it is trusted again.
func TestReportSuspects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube := fake.NewClientset()
	m := netmap.New()
	m.OnUpdate(reportSuspects(ctx, lazyRecorder(ctx, kube)))
	m.EnableEstimation(time.Hour)
	m.SetLandmark("hz")
	now := time.Now()
	for n, rtt := range map[string]int64{"a1": 100, "a2": 20000, "a3": 21000} {
		m.SetNode(n, map[string]string{topology.SiteLabel: "site-a"})
		m.SetNodeNetwork(synthetic.NodeNetwork(n, now, map[string]int64{"hz": rtt}))
	}
	m.SetState(netmap.Ready)
	estimator := estimate.NewMapEstimator()
	pass := func() {
		m.Flush()
		m.PublishEstimates(estimator.Estimate(ctx, m.Current(), now, time.Hour))
		m.Flush()
	}
	pass()
	for range 3 { // written again, and judged again
		m.SetNodeNetwork(synthetic.NodeNetwork("a1", now, map[string]int64{"hz": 150}))
		pass()
	}
	gauge, err := testutil.GetGaugeMetricValue(suspectMeasurements)
	require.NoError(t, err)
	assert.Equal(t, 1.0, gauge)

	var notes []string
	require.Eventually(t, func() bool {
		list, err := kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		notes = notes[:0]
		for _, ev := range list.Items {
			assert.Equal(t, ReasonSuspect, ev.Reason)
			assert.Equal(t, "a1", ev.Regarding.Name)
			assert.Equal(t, "NodeNetwork", ev.Regarding.Kind)
			notes = append(notes, ev.Note)
		}
		return len(notes) > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, notes, 1, "one event for one suspect measurement")
	assert.Contains(t, notes[0], "landmark hz: published p50 0.1ms is implausibly better than every peer's (lowest 20.0ms")

	m.SetNodeNetwork(synthetic.NodeNetwork("a1", now, map[string]int64{"hz": 19000}))
	pass()
	gauge, err = testutil.GetGaugeMetricValue(suspectMeasurements)
	require.NoError(t, err)
	assert.Equal(t, 0.0, gauge, "trusted again")
}
