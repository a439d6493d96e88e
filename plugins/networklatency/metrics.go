package networklatency

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// Metrics, served on the scheduler's /metrics with kube-scheduler's own.
// The time each plugin takes per extension point is kube-scheduler's
// scheduler_plugin_execution_duration_seconds{plugin="NetworkLatency"}.
var (
	chosenRTT = metrics.NewHistogram(&metrics.HistogramOpts{
		Subsystem:      "edgeplace",
		Name:           "chosen_node_rtt_seconds",
		Help:           "Demand-weighted RTT from the node each pod was given to the pod's users, at decision time.",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 12), // 1 ms .. 2 s
		StabilityLevel: metrics.ALPHA,
	})
	sloRejections = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace",
		Name:           "slo_rejections_total",
		Help:           "Scheduling attempts refused because no node met the pod's RTT SLO, by the landmark no node was near enough to.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"landmark"})
	estimatedDecisions = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace",
		Name:           "estimated_decisions_total",
		Help:           "Placements that relied on an estimated RTT to some demand landmark, by the estimate's source.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"source"})
	mapEntries = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      "edgeplace",
		Name:           "network_map_entries",
		Help:           "Node-row x landmark entries of the network map by state: measured (fresh), stale, estimated, unknown. Updated on every map update.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"state"})
)

var registerOnce sync.Once

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(chosenRTT, sloRejections, estimatedDecisions, mapEntries)
	})
}

// countEvery bounds how often the map's entries are counted: a count reads
// every entry, too much for every 50 ms update of a large map.
const countEvery = 10 * time.Second

// countEntries sets network_map_entries from a snapshot, at most once per
// countEvery.
func (pl *NetworkLatency) countEntries(snap *netmap.Snapshot) {
	now := pl.now()
	if last := pl.lastCount.Load(); last != 0 && now.Sub(time.Unix(0, last)) < countEvery {
		return
	}
	pl.lastCount.Store(now.UnixNano())
	view := snap.View(now, pl.args.MeasurementTTL.Duration)
	var measured, stale, estimated, unknown float64
	for row := range int32(view.NumRows()) {
		for lm := range int32(view.NumLandmarks()) {
			switch _, src, ok := view.Value(row, lm, netmap.P50, netmap.AnyEstimate); {
			case ok && src == netmap.Measured:
				measured++
			case ok:
				estimated++
			case !view.Observed(row, lm).IsZero():
				stale++
			default:
				unknown++
			}
		}
	}
	mapEntries.WithLabelValues("measured").Set(measured)
	mapEntries.WithLabelValues("stale").Set(stale)
	mapEntries.WithLabelValues("estimated").Set(estimated)
	mapEntries.WithLabelValues("unknown").Set(unknown)
}
