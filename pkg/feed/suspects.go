package feed

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// ReasonSuspect is the reason of the Warning event a NodeNetwork gets when
// one of its measurements is implausibly better than its peers' or than
// the triangle through other landmarks allows (netmap.Suspect).
const ReasonSuspect = "SuspectMeasurement"

var (
	suspectMeasurements = metrics.NewGauge(&metrics.GaugeOpts{
		Subsystem:      "edgeplace_netmap",
		Name:           "suspect_measurements",
		Help:           "Measurements (NodeNetwork x landmark) the network map does not trust: implausibly better than every site or city peer's, or than the triangle through other landmarks allows; they read as unmeasured.",
		StabilityLevel: metrics.ALPHA,
	})
	registerMetrics = sync.OnceFunc(func() { legacyregistry.MustRegister(suspectMeasurements) })
)

// reportSuspects is a map listener: each measurement that becomes suspect
// is logged and gets a Warning event on its NodeNetwork, related to the
// landmark, and the gauge counts them. It runs on the flushing goroutine,
// so it does little unless the suspects changed.
func reportSuspects(ctx context.Context, recorder func() events.EventRecorder) func(prev, next *netmap.Snapshot) {
	registerMetrics()
	logger := klog.FromContext(ctx).WithName("netmap")
	return func(prev, next *netmap.Snapshot) {
		if prev.SuspectsVersion() == next.SuspectsVersion() {
			return
		}
		known := map[[2]string]bool{}
		for _, s := range prev.Suspects() {
			known[[2]string{s.Object, s.Landmark}] = true
		}
		now := next.Suspects()
		suspectMeasurements.Set(float64(len(now)))
		for _, s := range now {
			if known[[2]string{s.Object, s.Landmark}] {
				continue
			}
			note := SuspectNote(s.Landmark, s.Suspect)
			logger.Info("not trusting a measurement", "nodeNetwork", s.Object, "note", note)
			nn := &v1alpha1.NodeNetwork{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "NodeNetwork"},
				ObjectMeta: metav1.ObjectMeta{Name: s.Object},
			}
			// Related to the landmark: the recorder merges events of one
			// object, reason and related object into a series that keeps
			// the first note, so without it a second landmark's note
			// would be lost.
			lm := &v1alpha1.Landmark{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Landmark"},
				ObjectMeta: metav1.ObjectMeta{Name: s.Landmark},
			}
			recorder().Eventf(nn, lm, corev1.EventTypeWarning, ReasonSuspect, "Read", "%s", note)
		}
	}
}

// SuspectNote says why a measurement is not trusted, as the event, explain
// and top say it.
func SuspectNote(landmark string, s netmap.Suspect) string {
	if s.Via != "" {
		return fmt.Sprintf("landmark %s: published p50 %s is implausible: this object measured landmark %s at %s, and nodes at %s measure %s at %s or more, so the triangle wants at least %s (trusted from %s): read as unmeasured, so an estimate stands in and no SLO or eviction rests on it",
			landmark, micros(s.P50), s.Via, micros(s.ViaRTT), s.Via, landmark, micros(s.Separation), micros(max(0, s.Separation-s.ViaRTT)), micros(s.Floor))
	}
	return fmt.Sprintf("landmark %s: published p50 %s is implausibly better than every peer's (lowest %s; trusted from %s): read as unmeasured, so its peers' estimate stands in and no SLO or eviction rests on it",
		landmark, micros(s.P50), micros(s.PeersMin), micros(s.Floor))
}

func micros(us int32) string {
	return fmt.Sprintf("%.1fms", float64(us)/1000)
}
