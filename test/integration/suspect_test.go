package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
)

// TestSuspectMeasurementIsNotTrusted: a node that publishes 0.1 ms where
// its two site peers measure 20 ms gets a Warning event from the
// scheduler's network map, and a pod with a 15 ms SLO does not go there on
// that figure: it waits, and goes to a peer once one really is within it.
func TestSuspectMeasurementIsNotTrusted(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	f.landmark(lm)
	site := map[string]string{v1alpha1.SiteLabel: f.prefix + "-site"}
	peer0, peer1 := f.node(f.prefix+"-peer-0", 4, site), f.node(f.prefix+"-peer-1", 4, site)
	liar := f.node(f.prefix+"-liar", 4, site)
	f.publish(peer0, rtt{landmark: lm, p90: 20 * time.Millisecond})
	f.publish(peer1, rtt{landmark: lm, p90: 21 * time.Millisecond})
	f.publish(liar, rtt{landmark: lm, p90: 100 * time.Microsecond})

	// The map's estimation pass (every 10 s) judges it.
	var note string
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := f.e.kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Reason == feed.ReasonSuspect && ev.Regarding.Name == liar.Name {
				note = ev.Note
				assert.Equal(t, "Warning", ev.Type)
				return true, nil
			}
		}
		return false, nil
	}), "a Warning event on the liar's NodeNetwork")
	t.Logf("event: %s", note)
	assert.Contains(t, note, "landmark "+lm+": published p50 0.1ms is implausibly better than every peer's (lowest 18.0ms")

	f.pod("slo", demand(lm, "15ms"), 100)
	msg := f.waitUnschedulable("slo")
	assert.Contains(t, msg, "no node within 15ms p90 of "+lm)

	f.publish(peer1, rtt{landmark: lm, p90: 12 * time.Millisecond})
	assert.Equal(t, peer1.Name, f.waitBound("slo", waitTimeout))
}
