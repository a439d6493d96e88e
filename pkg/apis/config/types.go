package config

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Percentile names which RTT figure of a measurement window an SLO and the
// score are held against.
type Percentile string

const (
	// P50 is the window's median RTT.
	P50 Percentile = "p50"
	// P90 is the window's 90th-percentile RTT.
	P90 Percentile = "p90"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NetworkLatencyArgs configures the NetworkLatency plugin.
type NetworkLatencyArgs struct {
	metav1.TypeMeta

	// MeasurementTTL is how long a measurement counts as fresh. An older one
	// is treated exactly like a missing one.
	MeasurementTTL metav1.Duration
	// DefaultPercentile is used by pods that do not name one.
	DefaultPercentile Percentile
	// DefaultDemandWeight is the weight of a demand landmark listed without one.
	DefaultDemandWeight int32
	// MaxDemandLandmarks bounds how many landmarks one pod may list.
	MaxDemandLandmarks int32
	// ScoreWindowMin and ScoreWindowPercent shape NormalizeScore: the best
	// candidate scores 100 and a node whose demand-weighted RTT is worse by
	// max(ScoreWindowMin, ScoreWindowPercent% of the best) or more scores 0,
	// linearly in between. A narrow window keeps milliseconds meaningful next
	// to the stock plugins' scores.
	ScoreWindowMin     metav1.Duration
	ScoreWindowPercent int32
	// RecordDecisions writes NetworkLatency's view of each placement as an
	// event on the pod, which kubectl edgeplace explain reads: one more API
	// write per placed pod.
	RecordDecisions bool
	// MinCandidates is how many nodes that can take the pod (by a cheap look
	// at their free resources, taints and required node affinity) PreFilter
	// keeps at least, nearest first, when it narrows a pod with a network
	// intent to the nodes that can win. 0 turns the narrowing off: pods
	// without an SLO are then evaluated on every node.
	MinCandidates int32
	// MeasureRequestsPerSecond bounds, cluster-wide, how often the
	// scheduler asks a node's probe to measure now the landmarks a
	// placement on that node rested on estimates for; 0 turns it off.
	MeasureRequestsPerSecond int32
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BandwidthCostArgs configures the BandwidthCost plugin: what egress costs
// in each billing zone.
type BandwidthCostArgs struct {
	metav1.TypeMeta

	// Zones lists the billing zones with their prices.
	Zones []BillingZone
	// DefaultPricePerMbps prices zones that are not listed, and nodes whose
	// zone is unknown, with nothing committed.
	DefaultPricePerMbps resource.Quantity
}

// BillingZone is one bandwidth billing zone under 95th-percentile billing:
// the zone pays for max(committed, 95th-percentile peak) Mbps a month.
type BillingZone struct {
	// Name matches a NodeNetwork's status.billingZone or a node's
	// edgeplace.io/billing-zone label.
	Name string
	// PricePerMbps is the monthly price of one Mbps of billed peak.
	PricePerMbps resource.Quantity
	// CommittedMbps is bandwidth paid for whether used or not.
	CommittedMbps int64
}
