package probe

import (
	"net/http"

	"github.com/edgeplace/edgeplace/pkg/agent/textmetrics"
)

const metricsPrefix = "edgeplace_probe_"

var (
	registry = &textmetrics.Registry{}

	probesSent = registry.Counter(metricsPrefix+"probes_total",
		"Probes sent, by landmark.", "landmark")
	probesFailed = registry.Counter(metricsPrefix+"probe_failures_total",
		"Probes that got no answer (timeout, refused or any other error), by landmark.", "landmark")
	lastSuccessAge = registry.Gauge(metricsPrefix+"last_success_age_seconds",
		"Age of the landmark's last answered probe, updated at every publish step.", "landmark")
	probeInterval = registry.Gauge(metricsPrefix+"interval_seconds",
		"Base time between two probes of one landmark, before the jitter of up to +20% (a mean of 1.1x this): the probe interval, or longer when the landmarks at that interval would exceed the probe budget; a site follower's is its slowdown times that.", "")
	siteRole = registry.Gauge(metricsPrefix+"site_role",
		"In site mode, 1 for this probe's role in its site (leader: probes at the full rate and publishes the site object; standby: probes at the full rate, takes over when the leader goes; follower: samples at a low rate; own: measures differently from its site and publishes its node's own object), 0 for the others.", "role")
	writes = registry.Counter(metricsPrefix+"writes_total",
		"NodeNetwork writes, by reason (first, changed, heartbeat, requested, retry) or error.", "reason")
	writeSkips = registry.Counter(metricsPrefix+"write_skips_total",
		"Publish steps that wrote nothing, by reason (unchanged, rate-limited, backoff).", "reason")
	measureRequests = registry.Counter(metricsPrefix+"measure_requests_total",
		"The scheduler's requests to measure now (a NodeNetwork's spec.measureNow), by result: taken, or stale (older than a minute when seen).", "result")
)

// MetricsHandler serves the probe's metrics, and the process's and the Go
// runtime's, uncompressed: a scrape is a few kilobytes.
func MetricsHandler() http.Handler { return registry.Handler() }

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
		siteRole.Set(r, v)
	}
}

// forgetLandmark drops a removed landmark's series.
func forgetLandmark(name string) {
	probesSent.Delete(name)
	probesFailed.Delete(name)
	lastSuccessAge.Delete(name)
}
