package feed

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

func TestReportImplausible(t *testing.T) {
	entry := func(lm string, p50, p90 int64, samples int32) v1alpha1.LandmarkRTT {
		return v1alpha1.LandmarkRTT{Landmark: lm, RTTP50Microseconds: p50, RTTP90Microseconds: p90, Samples: samples}
	}
	tests := []struct {
		name    string
		entries []v1alpha1.LandmarkRTT
		want    []string // in the event's note; none means no event
	}{
		{name: "plausible", entries: []v1alpha1.LandmarkRTT{entry("a", 1000, 2000, 5)}},
		{name: "negative", entries: []v1alpha1.LandmarkRTT{entry("a", 1000, 2000, 5), entry("b", -1, 2000, 5)},
			want: []string{"1 entries ignored", "status.landmarks[1] (b): rttP50Microseconds=-1 is outside 0..60000000"}},
		{name: "inverted", entries: []v1alpha1.LandmarkRTT{entry("a", 3000, 2000, 5)},
			want: []string{"rttP50Microseconds=3000 exceeds rttP90Microseconds=2000"}},
		{name: "huge and unsampled", entries: []v1alpha1.LandmarkRTT{entry("a", 1, 1<<40, 5), entry("b", 1, 2, 0)},
			want: []string{"2 entries ignored", "rttP90Microseconds=1099511627776", "samples=0 is below 1"}},
		{name: "many", entries: func() []v1alpha1.LandmarkRTT {
			var out []v1alpha1.LandmarkRTT
			for range 500 {
				out = append(out, entry(strings.Repeat("x", 200), -5, -5, 0))
			}
			return out
		}(), want: []string{"500 entries ignored", "and 497 more"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The recorder's goroutines end with the feed's context.
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kube := fake.NewClientset()
			var got *v1alpha1.NodeNetwork
			set := reportImplausible(ctx, lazyRecorder(ctx, kube), func(nn *v1alpha1.NodeNetwork) { got = nn })
			nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", UID: "uid-edge-1"}}
			nn.Status.Landmarks = tc.entries
			set(nn)
			require.Same(t, nn, got, "the object still reaches the map, which ignores only the bad entries")
			if len(tc.want) == 0 {
				// The recorder writes asynchronously: a plausible object must
				// still have no event once a later implausible one has one.
				bad := nn.DeepCopy()
				bad.Name = "marker"
				bad.Status.Landmarks = []v1alpha1.LandmarkRTT{entry("a", -1, 0, 1)}
				set(bad)
			}
			var notes []string
			require.Eventually(t, func() bool {
				list, err := kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
				require.NoError(t, err)
				notes = notes[:0]
				for _, ev := range list.Items {
					require.Equal(t, ReasonImplausible, ev.Reason)
					require.LessOrEqual(t, len(ev.Note), 1024)
					notes = append(notes, ev.Regarding.Name+": "+ev.Note)
				}
				return len(notes) > 0
			}, 10*time.Second, 20*time.Millisecond)
			if len(tc.want) == 0 {
				require.Len(t, notes, 1)
				require.True(t, strings.HasPrefix(notes[0], "marker: "), notes[0])
				return
			}
			require.Len(t, notes, 1)
			require.True(t, strings.HasPrefix(notes[0], "edge-1: "), notes[0])
			for _, w := range tc.want {
				require.Contains(t, notes[0], w)
			}
		})
	}
}

// slowEstimator estimates one entry once the test lets it go on.
type slowEstimator struct {
	started, proceed chan struct{}
}

func (e slowEstimator) Estimate(ctx context.Context, s *netmap.Snapshot, now time.Time, _ time.Duration) *netmap.Estimates {
	e.started <- struct{}{}
	select {
	case <-e.proceed:
	case <-ctx.Done():
		return nil
	}
	out := netmap.NewEstimates(s, now)
	v := s.View(now, time.Hour)
	row, _ := v.Row("n2")
	lm, _ := v.Landmark("hz")
	out.Set(row, lm, 4000, 4400, netmap.PeerEstimate)
	return out
}

// TestEstimatesBesideFlushes: measurements reach the map while an estimate
// is being made, the estimate is published when it is done, and Run does
// not return before the estimate it started.
func TestEstimatesBesideFlushes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := netmap.New()
	m.EnableEstimation(time.Hour)
	m.SetLandmark("hz")
	m.SetNode("n1", nil)
	m.SetNode("n2", nil)
	m.SetState(netmap.Ready)
	m.Flush()
	est := slowEstimator{started: make(chan struct{}), proceed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		run(ctx, m, time.Millisecond, est)
	}()
	<-est.started

	m.SetNodeNetwork(synthetic.NodeNetwork("n1", time.Now(), map[string]int64{"hz": 3000}))
	require.Eventually(t, func() bool {
		v := m.Current().View(time.Now(), time.Hour)
		row, ok := v.Row("n1")
		lm, _ := v.Landmark("hz")
		_, fresh := v.RTT(row, lm, netmap.P50)
		return ok && fresh
	}, 10*time.Second, time.Millisecond, "a measurement is flushed while the estimate runs")

	close(est.proceed)
	require.Eventually(t, func() bool {
		v := m.Current().View(time.Now(), time.Hour)
		row, _ := v.Row("n2")
		lm, _ := v.Landmark("hz")
		rtt, src, ok := v.Value(row, lm, netmap.P50, netmap.AnyEstimate)
		return ok && src == netmap.PeerEstimate && rtt == 4000
	}, 10*time.Second, time.Millisecond, "the estimate is published when it is done")

	cancel()
	<-stopped

	// Stopped while an estimate is under way, Run returns once it gives up.
	est = slowEstimator{started: make(chan struct{}), proceed: make(chan struct{})}
	ctx, cancel = context.WithCancel(context.Background())
	stopped = make(chan struct{})
	go func() {
		defer close(stopped)
		run(ctx, m, time.Millisecond, est)
	}()
	<-est.started
	cancel()
	<-stopped
}
