package rebalance

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Metrics, served on the descheduler's /metrics next to its own
// (descheduler_pods_evicted_total counts this plugin's evictions too, by
// strategy="EdgeplaceRebalance").
var (
	badPods = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      "edgeplace_rebalance",
		Name:           "bad_pods",
		Help:           "Pods the last pass found bad, however briefly: over a hard bound (rule=slo) or only behind the best node (rule=gap).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"rule"})
	candidates = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace_rebalance",
		Name:           "candidates_total",
		Help:           "Pod-passes in which a pod had been bad for its grace period, by rule; each is then evicted or skipped.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"rule"})
	evictionsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace_rebalance",
		Name:           "evictions_total",
		Help:           "Pods evicted (dry_run=true: that a dry run would have evicted), by rule.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"rule", "dry_run"})
	skips = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace_rebalance",
		Name:           "skips_total",
		Help:           "Pod-passes in which a pod due to move stayed, by the safety reason.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
)

var registerOnce sync.Once

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(badPods, candidates, evictionsTotal, skips)
	})
}
