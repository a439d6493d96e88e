package probe

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned/fake"
)

// TestAgentFollowsLandmarks runs the agent against a fake API with real
// sockets: it probes a landmark once it appears, switches when its address
// changes, and stops when it goes.
func TestAgentFollowsLandmarks(t *testing.T) {
	near := listen(t, "tcp", 2*time.Millisecond)
	far := listen(t, "udp", 30*time.Millisecond)
	edge := fake.NewSimpleClientset()
	a := NewAgent(Config{ProbeInterval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Budget: 1000, WindowSize: 10, WindowAge: time.Minute}, edge)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()

	lms := edge.EdgeplaceV1alpha1().Landmarks()
	lm := &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: "users"},
		Spec:       v1alpha1.LandmarkSpec{Addresses: []string{near.Addr().String()}, Protocol: v1alpha1.ProtocolTCPEcho},
	}
	_, err := lms.Create(ctx, lm, metav1.CreateOptions{})
	require.NoError(t, err)
	summaryOf := func(ok func(Stats, bool) bool) Stats {
		t.Helper()
		var st Stats
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			var found bool
			st, found = a.Summary(time.Now())["users"]
			return ok(st, found), nil
		})
		require.NoError(t, err, "last: %+v", st)
		return st
	}
	st := summaryOf(func(s Stats, found bool) bool { return found && s.Answered >= 5 })
	assert.Less(t, st.P50, 30*time.Millisecond)

	// New addresses measure something else: the window starts afresh.
	lm.Spec = v1alpha1.LandmarkSpec{Addresses: []string{far.Addr().String()}, Protocol: v1alpha1.ProtocolUDPEcho}
	_, err = lms.Update(ctx, lm, metav1.UpdateOptions{})
	require.NoError(t, err)
	st = summaryOf(func(s Stats, found bool) bool { return found && s.P90 >= 30*time.Millisecond })
	assert.GreaterOrEqual(t, st.P50, 30*time.Millisecond, "no sample of the old address is left")

	require.NoError(t, lms.Delete(ctx, "users", metav1.DeleteOptions{}))
	summaryOf(func(_ Stats, found bool) bool { return !found })
	assert.Empty(t, a.Landmarks())

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
