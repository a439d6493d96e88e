package netmap

import (
	"math"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// FuzzNodeNetwork: whatever a NodeNetwork says (an API server without the
// CRD's schema would pass anything), the map reads it without panicking and
// never offers a negative RTT, or one beyond what the schema allows, as
// fresh.
func FuzzNodeNetwork(f *testing.F) {
	f.Add("hz", int64(3000), int64(4000), int32(10), int64(0), int64(0), "Node", "")
	f.Add("hz", int64(-1), int64(math.MaxInt64), int32(0), int64(-5), int64(-3600), "Site", "")
	f.Add("", int64(math.MinInt64), int64(1), int32(-1), int64(2_000_000), int64(1<<40), "Site", "s")
	f.Fuzz(func(t *testing.T, landmark string, p50, p90 int64, samples int32, loss, ageSeconds int64, scope, site string) {
		m := New()
		m.SetLandmark("hz")
		m.SetLandmark(landmark)
		m.SetNode("n", map[string]string{v1alpha1.SiteLabel: site})
		observed := now.Add(-time.Duration(max(min(ageSeconds, 1<<30), -(1<<30))) * time.Second)
		nn := &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.NodeNetworkScope(scope), Site: site},
			Status: v1alpha1.NodeNetworkStatus{Landmarks: []v1alpha1.LandmarkRTT{{
				Landmark: landmark, RTTP50Microseconds: p50, RTTP90Microseconds: p90,
				Samples: samples, LossPartsPerMillion: loss, ObservedTime: metav1.NewTime(observed),
			}}},
		}
		// What the map ignores is exactly what Implausible reports.
		schemaOK := p50 >= 0 && p50 <= p90 && p90 <= 60_000_000 && samples >= 1
		if bad := Implausible(nn); schemaOK != (len(bad) == 0) {
			t.Fatalf("p50=%d p90=%d samples=%d: reported %q", p50, p90, samples, bad)
		}
		m.SetNodeNetwork(nn)
		view := m.Flush().View(now, ttl)
		row, ok := view.Row("n")
		if !ok {
			return
		}
		for lm := range int32(view.NumLandmarks()) {
			for _, p := range []Percentile{P50, P90} {
				if rtt, fresh := view.RTT(row, lm, p); fresh && (rtt < 0 || rtt > 60_000_000) {
					t.Fatalf("fresh RTT %d from p50=%d p90=%d", rtt, p50, p90)
				}
			}
		}
		out := make([]int32, view.NumRows())
		view.WeightedRTT([]int32{0}, []int64{1}, P90, AnyEstimate, out)
		view.NodesWithin([]int32{0}, P90, 10_000, AnyEstimate)
	})
}
