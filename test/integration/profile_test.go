package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// A pod that names a LatencyProfile waits, saying so, until the profile
// exists, and is then placed by it; its own annotations override it.
func TestLatencyProfile(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-profile")
	near := f.node("lp-near", 8, nil)
	far := f.node("lp-far", 8, nil)
	f.publish(near, rtt{landmark: "lm-profile", p90: 4 * time.Millisecond})
	f.publish(far, rtt{landmark: "lm-profile", p90: 12 * time.Millisecond})
	f.syncMeasurements()

	f.pod("by-profile", map[string]string{v1alpha1.ProfileAnnotation: "ingest"}, 0)
	msg := f.waitUnschedulable("by-profile")
	assert.Contains(t, msg, `annotation edgeplace.io/latency-profile="ingest": no LatencyProfile of that name in namespace`)

	profiles := f.e.edge.EdgeplaceV1alpha1().LatencyProfiles(f.ns)
	_, err := profiles.Create(f.ctx, &v1alpha1.LatencyProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "ingest"},
		Spec: v1alpha1.LatencyProfileSpec{
			Demand: []v1alpha1.DemandEntry{{Landmark: "lm-profile", Weight: 1}},
			MaxRTT: &metav1.Duration{Duration: 3 * time.Millisecond},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	msg = f.waitUnschedulableWith("by-profile", "no node within 3ms p90 of lm-profile")
	assert.Contains(t, msg, "best is node lp-near at 4ms")

	// Loosening the profile re-queues the pod that references it.
	lp, err := profiles.Get(f.ctx, "ingest", metav1.GetOptions{})
	require.NoError(t, err)
	lp.Spec.MaxRTT = &metav1.Duration{Duration: 10 * time.Millisecond}
	_, err = profiles.Update(f.ctx, lp, metav1.UpdateOptions{})
	require.NoError(t, err)
	assert.Equal(t, "lp-near", f.waitBound("by-profile", waitTimeout))

	// The pod's own annotation overrides the profile's SLO.
	f.pod("override", map[string]string{v1alpha1.ProfileAnnotation: "ingest", "edgeplace.io/max-rtt": "2ms"}, 0)
	assert.Contains(t, f.waitUnschedulable("override"), "no node within 2ms p90 of lm-profile")

	// The schema refuses nonsense, naming the field.
	for _, bad := range []v1alpha1.LatencyProfileSpec{
		{Demand: []v1alpha1.DemandEntry{{Landmark: "x"}}, MaxRTT: &metav1.Duration{Duration: 2 * time.Minute}},
		{MaxRTT: &metav1.Duration{Duration: time.Millisecond}},
		{Carriers: []v1alpha1.Carrier{"pigeon"}},
		{Demand: []v1alpha1.DemandEntry{{Landmark: "x", Weight: -3}}},
	} {
		_, err := profiles.Create(f.ctx, &v1alpha1.LatencyProfile{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-"}, Spec: bad}, metav1.CreateOptions{})
		assert.Error(t, err, "%+v", bad)
	}
}
