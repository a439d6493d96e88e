package intent

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// FuzzForPod feeds arbitrary annotation values to the intent parser: it
// returns an intent or an error naming the annotation, never panics, and
// never accepts more landmarks than the limit, a negative bound (RTT, loss,
// jitter), a loss over 100% or a non-positive weight.
func FuzzForPod(f *testing.F) {
	for _, seed := range [][3]string{
		{"zhejiang-telecom:60,jiangsu-telecom:40", "10ms", "p90"},
		{"hz", "NaN", ""},
		{"hz:1e400", "Inf", "p99"},
		{"a:1,a:2", "-5ms", "p50"},
		{",,,:", "1e400ms", " "},
		{"hz:9223372036854775807,sh:9223372036854775807", "10", "P90"},
	} {
		f.Add(seed[0], seed[1], seed[2], "peers", "200M", "profile", "1%", "5ms")
	}
	for _, bounds := range [][2]string{
		{"0.5%", "2ms"}, {"101%", "-1ms"}, {"NaN%", "Inf"}, {"1e-400%", "1e400ms"}, {"5000ppm", "5"}, {"-0%", " 5ms "}, {"%", "ms"},
	} {
		f.Add("hz", "10ms", "p90", "", "", "", bounds[0], bounds[1])
	}
	opts := Options{DefaultPercentile: config.P90, DefaultWeight: 1, MaxLandmarks: 64}
	profiles := func(namespace, name string) (*v1alpha1.LatencyProfile, bool) {
		if name != "profile" {
			return nil, false
		}
		return &v1alpha1.LatencyProfile{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: v1alpha1.LatencyProfileSpec{Demand: []v1alpha1.DemandEntry{{Landmark: "hz", Weight: 1}}}}, true
	}
	f.Fuzz(func(t *testing.T, demand, maxRTT, pct, estimates, egress, profile, maxLoss, maxJitter string) {
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", Annotations: map[string]string{
			v1alpha1.DemandAnnotation: demand, v1alpha1.MaxRTTAnnotation: maxRTT, v1alpha1.PercentileAnnotation: pct,
			v1alpha1.EstimatesAnnotation: estimates, v1alpha1.EgressAnnotation: egress, v1alpha1.ProfileAnnotation: profile,
		}}}
		// Empty means absent here, so that the seeds without the quality
		// bounds still reach the parsing after them.
		for key, value := range map[string]string{v1alpha1.MaxLossAnnotation: maxLoss, v1alpha1.MaxJitterAnnotation: maxJitter} {
			if value != "" {
				pod.Annotations[key] = value
			}
		}
		in, err := ForPod(pod, profiles, opts)
		if err != nil {
			if !strings.Contains(err.Error(), "edgeplace.io/") {
				t.Fatalf("the error does not name the annotation: %v", err)
			}
			return
		}
		if in == nil {
			return
		}
		if len(in.Demand) > opts.MaxLandmarks {
			t.Fatalf("accepted %d landmarks, more than the limit", len(in.Demand))
		}
		if in.MaxRTT < 0 {
			t.Fatalf("accepted a negative SLO %s", in.MaxRTT)
		}
		if in.MaxLossPPM < 0 || in.MaxLossPPM > 1_000_000 {
			t.Fatalf("accepted a loss bound of %d ppm from %q", in.MaxLossPPM, maxLoss)
		}
		if in.MaxJitter < 0 {
			t.Fatalf("accepted a negative jitter bound %s from %q", in.MaxJitter, maxJitter)
		}
		for _, d := range in.Demand {
			if d.Weight <= 0 {
				t.Fatalf("accepted weight %d for %q", d.Weight, d.Landmark)
			}
		}
	})
}
