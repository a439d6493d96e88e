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

// TestServeRequests: an agent whose probe loop would not come round for
// an hour measures a landmark at once when its NodeNetwork asks, takes
// each request once, and ignores requests older than a minute.
func TestServeRequests(t *testing.T) {
	users := listen(t, "udp", 0)
	edge := fake.NewSimpleClientset(
		&v1alpha1.Landmark{ObjectMeta: metav1.ObjectMeta{Name: "users"},
			Spec: v1alpha1.LandmarkSpec{Addresses: []string{users.Addr().String()}, Protocol: v1alpha1.ProtocolUDPEcho}},
		&v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeNetworkSpec{
			MeasureNow: &v1alpha1.MeasureRequest{Landmarks: []string{"users"}, RequestedAt: metav1.NewMicroTime(time.Now().Add(-2 * time.Minute))}}},
	)
	// The first probe of a loop comes within a random part of the
	// interval: an interval of years keeps it out of the test.
	a := NewAgent(Config{ProbeInterval: 24 * 365 * time.Hour, Timeout: time.Second, Budget: 1000, MinSamples: 3, WindowAge: time.Hour}, viaClientset(edge))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	go a.ServeRequests(ctx, "n1")
	stale := func() float64 { return measureRequests.Value("stale") }
	staleBefore := stale()
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return stale() > staleBefore, nil }), "the old request is seen")
	assert.Empty(t, a.Summary(time.Now()), "an old request is not answered")

	measured := a.measuredNow()
	nns := edge.EdgeplaceV1alpha1().NodeNetworks()
	nn, err := nns.Get(ctx, "n1", metav1.GetOptions{})
	require.NoError(t, err)
	nn.Spec.MeasureNow = &v1alpha1.MeasureRequest{Landmarks: []string{"users", "not-a-landmark"}, RequestedAt: metav1.NewMicroTime(time.Now())}
	_, err = nns.Update(ctx, nn, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case <-measured:
	case <-time.After(10 * time.Second):
		t.Fatal("no fresh measurement signalled")
	}
	st, ok := a.Summary(time.Now())["users"]
	require.True(t, ok, "the landmark is measured")
	assert.Equal(t, 3, st.Answered)

	// The same request seen again (another write of the object) is not
	// measured again; a new one is.
	nn, err = nns.Get(ctx, "n1", metav1.GetOptions{})
	require.NoError(t, err)
	nn.Labels = map[string]string{"touched": "yes"}
	_, err = nns.Update(ctx, nn, metav1.UpdateOptions{})
	require.NoError(t, err)
	nn.Spec.MeasureNow.RequestedAt = metav1.NewMicroTime(time.Now())
	nn.Labels = nil
	measured = a.measuredNow()
	_, err = nns.Update(ctx, nn, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case <-measured:
	case <-time.After(10 * time.Second):
		t.Fatal("the second request was not answered")
	}
	assert.Equal(t, 6, a.Summary(time.Now())["users"].Answered, "two requests, MinSamples each")
}

// TestMeasureNowSignalsPublishers: a publisher writes what the agent
// measured on request at once, within its write interval.
func TestMeasureNowSignalsPublishers(t *testing.T) {
	users := listen(t, "udp", 0)
	edge := fake.NewSimpleClientset(&v1alpha1.Landmark{ObjectMeta: metav1.ObjectMeta{Name: "users"},
		Spec: v1alpha1.LandmarkSpec{Addresses: []string{users.Addr().String()}, Protocol: v1alpha1.ProtocolUDPEcho}})
	a := NewAgent(Config{ProbeInterval: 24 * 365 * time.Hour, Timeout: time.Second, Budget: 1000, MinSamples: 2, WindowAge: time.Hour}, viaClientset(edge))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	<-a.synced
	p := NewPublisher(a, Target{Node: "n1"}, DefaultWritePolicy())
	p.ensured = true // the fake has no server-side apply: count the attempts
	attempts := func() int {
		n := 0
		for _, act := range edge.Actions() {
			if act.GetVerb() == "patch" && act.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	go p.Run(ctx)
	assert.Equal(t, []string{"users"}, a.MeasureNow(ctx, []string{"users", "gone"}))
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return attempts() > 0, nil }), "a write follows the measurement")
}
