package probe

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const metricsSubsystem = "edgeplace_probe"

var (
	probesSent = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      metricsSubsystem,
		Name:           "probes_total",
		Help:           "Probes sent, by landmark.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"landmark"})
	probesFailed = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      metricsSubsystem,
		Name:           "probe_failures_total",
		Help:           "Probes that got no answer (timeout, refused or any other error), by landmark.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"landmark"})
	lastSuccessAge = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      metricsSubsystem,
		Name:           "last_success_age_seconds",
		Help:           "Age of the landmark's last answered probe, updated at every publish step.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"landmark"})
	probeInterval = metrics.NewGauge(&metrics.GaugeOpts{
		Subsystem:      metricsSubsystem,
		Name:           "interval_seconds",
		Help:           "Base time between two probes of one landmark, before the jitter of up to +20% (a mean of 1.1x this): the probe interval, or longer when the landmarks at that interval would exceed the probe budget; a site follower's is its slowdown times that.",
		StabilityLevel: metrics.ALPHA,
	})
	siteRole = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      metricsSubsystem,
		Name:           "site_role",
		Help:           "In site mode, 1 for this probe's role in its site (leader: probes at the full rate and publishes the site object; standby: probes at the full rate, takes over when the leader goes; follower: samples at a low rate; own: measures differently from its site and publishes its node's own object), 0 for the others.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"role"})
	writes = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      metricsSubsystem,
		Name:           "writes_total",
		Help:           "NodeNetwork writes, by reason (first, changed, heartbeat, requested, retry) or error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
	measureRequests = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      metricsSubsystem,
		Name:           "measure_requests_total",
		Help:           "The scheduler's requests to measure now (a NodeNetwork's spec.measureNow), by result: taken, or stale (older than a minute when seen).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	writeSkips = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      metricsSubsystem,
		Name:           "write_skips_total",
		Help:           "Publish steps that wrote nothing, by reason (unchanged, rate-limited, backoff).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
)

var registerOnce sync.Once

// RegisterMetrics registers the probe's metrics with the legacy registry
// that component-base serves.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(probesSent, probesFailed, lastSuccessAge, probeInterval, siteRole, writes, writeSkips, measureRequests)
	})
}

// Site roles, as the site_role metric names them.
const (
	RoleLeader   = "leader"
	RoleStandby  = "standby"
	RoleFollower = "follower"
	RoleOwn      = "own"
)

// SetSiteRole marks role as this probe's role in its site.
func SetSiteRole(role string) {
	for _, r := range []string{RoleLeader, RoleStandby, RoleFollower, RoleOwn} {
		v := 0.0
		if r == role {
			v = 1
		}
		siteRole.WithLabelValues(r).Set(v)
	}
}

// forgetLandmark drops a removed landmark's series.
func forgetLandmark(name string) {
	probesSent.DeleteLabelValues(name)
	probesFailed.DeleteLabelValues(name)
	lastSuccessAge.DeleteLabelValues(name)
}
