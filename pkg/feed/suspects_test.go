package feed

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/component-base/metrics/testutil"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// TestReportSuspects: a measurement that becomes suspect gets one Warning
// event on its NodeNetwork, related to the landmark, however often it is
// written again; another landmark's, later, gets its own; the gauge counts
// them until they are trusted again.
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

	list := func(t *testing.T) []eventsv1.Event {
		l, err := kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		return l.Items
	}
	var notes []string
	require.Eventually(t, func() bool {
		notes = notes[:0]
		for _, ev := range list(t) {
			assert.Equal(t, ReasonSuspect, ev.Reason)
			assert.Equal(t, "a1", ev.Regarding.Name)
			assert.Equal(t, "NodeNetwork", ev.Regarding.Kind)
			notes = append(notes, ev.Note)
		}
		return len(notes) > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, notes, 1, "one event for one suspect measurement")
	assert.Contains(t, notes[0], "landmark hz: published p50 0.1ms is implausibly better than every peer's (lowest 20.0ms")

	assert.Equal(t, "hz", list(t)[0].Related.Name, "related to the landmark")

	// Another landmark of the same object turns suspect a pass later: its
	// event is its own, not merged into the first's series.
	m.SetLandmark("sh")
	m.SetNodeNetwork(synthetic.NodeNetwork("a2", now, map[string]int64{"hz": 20000, "sh": 30000}))
	m.SetNodeNetwork(synthetic.NodeNetwork("a3", now, map[string]int64{"hz": 21000, "sh": 31000}))
	m.SetNodeNetwork(synthetic.NodeNetwork("a1", now, map[string]int64{"hz": 150, "sh": 100}))
	pass()
	require.Eventually(t, func() bool { return len(list(t)) == 2 }, 10*time.Second, 20*time.Millisecond, "an event per landmark")
	byLandmark := map[string]string{}
	for _, ev := range list(t) {
		byLandmark[ev.Related.Name] = ev.Note
	}
	assert.Contains(t, byLandmark["sh"], "landmark sh: published p50 0.1ms")
	assert.Contains(t, byLandmark["hz"], "landmark hz: published p50 0.1ms")

	m.SetNodeNetwork(synthetic.NodeNetwork("a1", now, map[string]int64{"hz": 19000, "sh": 29000}))
	pass()
	gauge, err = testutil.GetGaugeMetricValue(suspectMeasurements)
	require.NoError(t, err)
	assert.Equal(t, 0.0, gauge, "trusted again")
}
