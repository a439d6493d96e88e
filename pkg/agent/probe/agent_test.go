package probe

import (
	"context"
	"io"
	"net"
	"sync/atomic"
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
	a := NewAgent(Config{ProbeInterval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Budget: 1000, WindowSize: 10, WindowAge: time.Minute}, viaClientset(edge))
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

func TestStretchedInterval(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base      time.Duration
		landmarks int
		budget    float64
		want      time.Duration
	}{
		{"no landmarks", 5 * time.Second, 0, 20, 5 * time.Second},
		{"64 landmarks fit 20/s at 5s", 5 * time.Second, 64, 20, 5 * time.Second},
		{"100 landmarks at 20/s: 5s exactly", 5 * time.Second, 100, 20, 5 * time.Second},
		{"101 landmarks at 20/s: stretched", 5 * time.Second, 101, 20, 5050 * time.Millisecond},
		{"1,000 landmarks at 20/s", 5 * time.Second, 1000, 20, 50 * time.Second},
		{"a fractional budget", time.Second, 3, 0.5, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, stretchedInterval(tc.base, tc.landmarks, tc.budget))
		})
	}
}

// TestAgentStretchesItsInterval: with more landmarks than the budget
// allows at the probe interval, the agent probes every one of them, less
// often, and says so in its interval gauge; as landmarks go, the interval
// comes back.
func TestAgentStretchesItsInterval(t *testing.T) {
	echo := listen(t, "udp", 0)
	edge := fake.NewSimpleClientset()
	a := NewAgent(Config{ProbeInterval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond, Budget: 10, WindowSize: 10, WindowAge: time.Minute, MinSamples: 1}, viaClientset(edge))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lms := edge.EdgeplaceV1alpha1().Landmarks()
	names := []string{"a", "b", "c", "d", "e"}
	for _, name := range names {
		_, err := lms.Create(ctx, &v1alpha1.Landmark{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.LandmarkSpec{Addresses: []string{echo.Addr().String()}, Protocol: v1alpha1.ProtocolUDPEcho},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true,
			func(context.Context) (bool, error) { return ok(), nil }), what)
	}
	until("five landmarks followed", func() bool { return len(a.Landmarks()) == len(names) })
	// 5 landmarks at 10 probes/s: one probe of each every 500ms, not 100ms.
	assert.Equal(t, 500*time.Millisecond, a.Interval())
	assert.InDelta(t, 0.5, probeInterval.Value(""), 1e-9)
	// None is dropped: every landmark gets answered probes.
	until("every landmark measured", func() bool { return len(a.Summary(time.Now())) == len(names) })

	for _, name := range names[:4] {
		require.NoError(t, lms.Delete(ctx, name, metav1.DeleteOptions{}))
	}
	until("one landmark left", func() bool { return len(a.Landmarks()) == 1 })
	assert.Equal(t, 100*time.Millisecond, a.Interval(), "one landmark fits the budget at the probe interval")
}

// TestAgentSlowdown: a site follower's slowdown divides the probe rate,
// and lifting it (the follower become standby) brings the full rate at
// once, not after the long wait the loops were in.
func TestAgentSlowdown(t *testing.T) {
	echo := listen(t, "udp", 0)
	edge := fake.NewSimpleClientset()
	a := NewAgent(Config{ProbeInterval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond, Budget: 1000, WindowSize: 1000, WindowAge: time.Hour, MinSamples: 1}, viaClientset(edge))
	a.SetSlowdown(10000) // a probe every 500 s
	assert.Equal(t, 500*time.Second, a.Interval())
	assert.InDelta(t, 500, probeInterval.Value(""), 1e-9)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	_, err := edge.EdgeplaceV1alpha1().Landmarks().Create(ctx, &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: "users"},
		Spec:       v1alpha1.LandmarkSpec{Addresses: []string{echo.Addr().String()}, Protocol: v1alpha1.ProtocolUDPEcho},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return len(a.Landmarks()) == 1, nil }))

	// The first probe waits up to one (slowed) interval; lifted, the
	// slowdown gives at least 10 answered probes within 10 full intervals.
	a.SetSlowdown(1)
	assert.Equal(t, 50*time.Millisecond, a.Interval())
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return a.Summary(time.Now())["users"].Answered >= 10, nil }),
		"the full rate resumed at once")
	assert.Equal(t, 1, a.Slowdown())
}

// TestFollowerHoldsNoConnection: slowed down, the agent connects for each
// tcp-echo probe and closes after it, so that a landmark's responder holds
// connections only from the probes at the full rate, which keep theirs.
func TestFollowerHoldsNoConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() { ln.Close() })

	edge := fake.NewSimpleClientset()
	a := NewAgent(Config{ProbeInterval: 10 * time.Millisecond, Timeout: 500 * time.Millisecond, Budget: 1000, WindowSize: 1000, WindowAge: time.Hour, MinSamples: 1}, viaClientset(edge))
	a.SetSlowdown(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	_, err = edge.EdgeplaceV1alpha1().Landmarks().Create(ctx, &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: "users"},
		Spec:       v1alpha1.LandmarkSpec{Addresses: []string{ln.Addr().String()}, Protocol: v1alpha1.ProtocolTCPEcho},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	answered := func(n int) {
		t.Helper()
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true,
			func(context.Context) (bool, error) { return a.Summary(time.Now())["users"].Answered >= n, nil }))
	}
	answered(5)
	slowed := a.Summary(time.Now())["users"].Answered
	assert.GreaterOrEqual(t, accepted.Load(), int64(slowed), "a connection per probe while slowed down")

	a.SetSlowdown(1)
	answered(slowed + 1) // the probe that opens the kept connection
	before := accepted.Load()
	answered(slowed + 11)
	assert.LessOrEqual(t, accepted.Load()-before, int64(1), "at the full rate the connection is kept")
}
