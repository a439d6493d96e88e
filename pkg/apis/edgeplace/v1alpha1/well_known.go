package v1alpha1

import (
	"strings"
	"time"
)

// Node labels edgeplace reads.
const (
	// SiteLabel names a node's site. Nodes of one site share a site-scoped
	// NodeNetwork when they have none of their own.
	SiteLabel = "edgeplace.io/site"
	// BillingZoneLabel names the bandwidth billing zone a node's egress is
	// metered in; it takes precedence over the zone in the node's
	// NodeNetwork.
	BillingZoneLabel = "edgeplace.io/billing-zone"
)

// Pod annotations edgeplace reads (pkg/intent parses them).
const (
	// ProfileAnnotation names the LatencyProfile, in the pod's namespace,
	// that holds the pod's network intent; the pod's own edgeplace.io
	// annotations override it field by field.
	ProfileAnnotation = "edgeplace.io/latency-profile"

	// DemandAnnotation lists the landmarks a pod serves, with optional
	// integer weights: "zhejiang-telecom:60,jiangsu-unicom:40".
	DemandAnnotation = "edgeplace.io/demand"
	// MaxRTTAnnotation is a hard SLO: every demand landmark must be within
	// this RTT of the chosen node, for example "25ms".
	MaxRTTAnnotation = "edgeplace.io/max-rtt"
	// MaxLossAnnotation and MaxJitterAnnotation are hard bounds on the
	// measured loss and jitter to every demand landmark, such as "1%" and
	// "5ms"; estimates never meet them.
	MaxLossAnnotation   = "edgeplace.io/max-loss"
	MaxJitterAnnotation = "edgeplace.io/max-jitter"
	// PercentileAnnotation picks the RTT figure the SLO and the score use:
	// "p50" or "p90".
	PercentileAnnotation = "edgeplace.io/rtt-percentile"

	// Hard location constraints, comma-separated lists.
	CarriersAnnotation           = "edgeplace.io/carriers"           // allowed carriers
	ForbiddenCarriersAnnotation  = "edgeplace.io/forbidden-carriers" // e.g. "cmcc"
	ProvincesAnnotation          = "edgeplace.io/provinces"          // allowed provinces
	ForbiddenProvincesAnnotation = "edgeplace.io/forbidden-provinces"
	NodeTypesAnnotation          = "edgeplace.io/node-types" // "ens", "cdn" or both

	// EstimatesAnnotation says which estimates of a missing or stale RTT a
	// hard SLO may rely on: "none", "peers" (the default) or "coordinates"
	// (peers, then network coordinates). A pod with an SLO is scored on the
	// same; without one, any estimate counts.
	EstimatesAnnotation = "edgeplace.io/estimates"

	// EgressAnnotation is the pod's expected sustained egress, with a unit:
	// "200M" or "200Mbps", "1.5G" or "1.5Gbps". A pod may instead request
	// the EgressResource extended resource.
	EgressAnnotation = "edgeplace.io/egress"
	// DependsOnAnnotation names a workload the pod talks to, as a label
	// selector in its namespace ("app=mysql"); DependsOnWeightAnnotation
	// weighs it against the demand (default 1) and DependsOnMaxRTTAnnotation
	// bounds the RTT to every site where it runs.
	DependsOnAnnotation       = "edgeplace.io/depends-on"
	DependsOnWeightAnnotation = "edgeplace.io/depends-on-weight"
	DependsOnMaxRTTAnnotation = "edgeplace.io/depends-on-max-rtt"

	// MaxCostAnnotation is a ceiling on the monthly bandwidth cost the pod
	// may add to its billing zone, in the zones' price unit: "40".
	MaxCostAnnotation = "edgeplace.io/max-cost"
)

// EgressResource is the extended resource for egress bandwidth in Mbps:
// nodes advertise it in their capacity (the probe sets it), pods request
// it, and the stock NodeResourcesFit, preemption and the kubelet enforce
// it. An untyped constant, usable as a core/v1 ResourceName, so that the
// probe, which links this package, need not link core/v1.
const EgressResource = "edgeplace.io/egress-mbps"

// What the scheduler writes on pods, which explain and the demo read.
const (
	// DecisionReason is the reason of the event NetworkLatency records on
	// a pod when it reserves a node: its own view of the decision, at
	// decision time. Other plugins' verdicts are not in it.
	DecisionReason = "EdgeplaceDecision"
	// ReasonLoading is the PodScheduled message of pods with a network
	// intent held while the network map syncs at start-up; they are
	// retried once it is ready.
	ReasonLoading = "network measurements are still loading"
)

// What the rebalancer (edgeplace-descheduler) writes, which explain reads.
const (
	// RebalanceReason is the reason of the events the rebalancer records
	// on a pod it moves, would move in a dry run, or leaves where it is for
	// safety; each names the pod's RTT, the expected one and why. The event
	// relates to the pod's workload, so that explain finds it for the
	// replacement too.
	RebalanceReason = "EdgeplaceRebalance"
	// Its actions.
	RebalanceEvicted    = "Evicted"
	RebalanceWouldEvict = "WouldEvict"
	RebalanceSkipped    = "Skipped"

	// ReplacementNodeAnnotation names the node the rebalancer expects a
	// pod's replacement on; it writes it on the pod just before evicting
	// it, with ReplacementDeadlineAnnotation (RFC 3339) after which it no
	// longer holds. The scheduler places the workload's next replica there
	// if the node still takes it: the rebalancer chose that node on
	// evidence the scheduler does not keep (an hour of history), and
	// without it the replacement would go where the last few minutes say.
	ReplacementNodeAnnotation     = "edgeplace.io/replacement-node"
	ReplacementDeadlineAnnotation = "edgeplace.io/replacement-deadline"
)

// MeasureRequestMaxAge bounds how old a NodeNetwork's spec.measureNow may
// be for a probe to take it: a probe that starts, or reconnects, later
// does not answer a placement long made.
const MeasureRequestMaxAge = time.Minute

// SiteObjectName is the name of the NodeNetwork that speaks for a site in
// site mode; it is not always a valid object name (the probe checks).
func SiteObjectName(site string) string { return "site-" + strings.ToLower(site) }
