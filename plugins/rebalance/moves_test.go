package rebalance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// TestCooldownsOfEarlierMovesAreHeld: a rebalancer that starts (a restart,
// or a standby taking over) reads the moves recorded within the cooldown
// and holds their workloads' cooldowns; dry-run events, other reasons and
// moves older than the cooldown hold nothing. While the record cannot be
// read, no pass runs.
func TestCooldownsOfEarlierMovesAreHeld(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	event := func(name, action, reason string, workload types.UID, ago time.Duration) *eventsv1.Event {
		return &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			EventTime:  metav1.NewMicroTime(now.Add(-ago)),
			Reason:     reason, Action: action,
			Regarding: v1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name},
			Related:   &v1.ObjectReference{Kind: "ReplicaSet", Namespace: "ns", Name: string(workload), UID: workload},
		}
	}
	client := fake.NewClientset(
		event("a", v1alpha1.RebalanceEvicted, v1alpha1.RebalanceReason, "rs-0", 10*time.Minute),
		event("b", v1alpha1.RebalanceEvicted, v1alpha1.RebalanceReason, "rs-0", 20*time.Minute), // the later one counts
		event("c", v1alpha1.RebalanceWouldEvict, v1alpha1.RebalanceReason, "rs-1", time.Minute),
		event("d", v1alpha1.RebalanceEvicted, v1alpha1.RebalanceReason, "rs-2", 40*time.Minute),
		event("e", v1alpha1.RebalanceEvicted, "Other", "rs-3", time.Minute),
		event("f", v1alpha1.RebalanceSkipped, v1alpha1.RebalanceReason, "rs-4", time.Minute),
	)
	failing := true
	client.PrependReactor("list", "events", func(clienttesting.Action) (bool, runtime.Object, error) {
		if failing {
			return true, nil, errors.New("the API server is away")
		}
		return false, nil, nil
	})
	c, nodes := testCluster(t, 20, 50)
	c.eventsAPI = client.EventsV1()
	pl := newTestPlugin(t, c)
	pl.now = func() time.Time { return now }
	require.Equal(t, DefaultCooldown, pl.args.Cooldown.Duration)

	st := pl.Deschedule(context.Background(), nodes)
	require.NotNil(t, st)
	require.ErrorContains(t, st.Err, "skipping the pass: reading the moves made within the cooldown: the API server is away")
	assert.False(t, pl.movesRead)

	failing = false
	require.Nil(t, pl.Deschedule(context.Background(), nodes))
	require.True(t, pl.movesRead)
	assert.Equal(t, 20*time.Minute, pl.tracker.Cooling("rs-0", now), "the latest move within the cooldown")
	for _, uid := range []types.UID{"rs-1", "rs-2", "rs-3", "rs-4", "rs-5"} {
		assert.Zero(t, pl.tracker.Cooling(uid, now), "workload %s", uid)
	}
}
