package v1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:defaulter-gen=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NetworkLatencyArgs configures the NetworkLatency plugin. Every field is
// optional; see defaults.go for the values used when a field is left out.
type NetworkLatencyArgs struct {
	metav1.TypeMeta `json:",inline"`

	// MeasurementTTL is how long a measurement counts as fresh; an older one
	// is treated exactly like a missing one.
	MeasurementTTL *metav1.Duration `json:"measurementTTL,omitempty"`
	// DefaultPercentile ("p50" or "p90") is used by pods that name none.
	DefaultPercentile *string `json:"defaultPercentile,omitempty"`
	// DefaultDemandWeight is the weight of a demand landmark listed without one.
	DefaultDemandWeight *int32 `json:"defaultDemandWeight,omitempty"`
	// MaxDemandLandmarks bounds how many landmarks one pod may list.
	MaxDemandLandmarks *int32 `json:"maxDemandLandmarks,omitempty"`
	// ScoreWindowMin and ScoreWindowPercent shape NormalizeScore: the best
	// candidate scores 100, a node worse by max(ScoreWindowMin,
	// ScoreWindowPercent% of the best) or more scores 0.
	ScoreWindowMin     *metav1.Duration `json:"scoreWindowMin,omitempty"`
	ScoreWindowPercent *int32           `json:"scoreWindowPercent,omitempty"`
	// RecordDecisions writes NetworkLatency's view of each placement as an
	// event on the pod, for kubectl edgeplace explain (default true). It
	// costs one more API write per placed pod.
	RecordDecisions *bool `json:"recordDecisions,omitempty"`
	// MinCandidates is how many nodes that can take the pod PreFilter keeps
	// at least, nearest first, when it narrows a pod with a network intent
	// to the nodes within the score window of the best (default 100, the
	// framework's own minimum of feasible nodes to score). 0 turns the
	// narrowing off.
	MinCandidates *int32 `json:"minCandidates,omitempty"`
	// MeasureRequestsPerSecond bounds, cluster-wide, how often the scheduler
	// asks a node's probe to measure now, through its NodeNetwork's
	// spec.measureNow, the landmarks a placement on that node rested on
	// estimates for (default 5). 0 turns the requests off.
	MeasureRequestsPerSecond *int32 `json:"measureRequestsPerSecond,omitempty"`
}

// +k8s:defaulter-gen=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BandwidthCostArgs configures the BandwidthCost plugin: what egress costs
// in each billing zone.
type BandwidthCostArgs struct {
	metav1.TypeMeta `json:",inline"`

	// Zones lists the billing zones with their prices.
	Zones []BillingZone `json:"zones,omitempty"`
	// DefaultPricePerMbps prices zones that are not listed, and nodes whose
	// zone is unknown, with nothing committed. Default 0: unknown zones are
	// free, so only listed zones steer placement.
	DefaultPricePerMbps *resource.Quantity `json:"defaultPricePerMbps,omitempty"`
}

// BillingZone is one bandwidth billing zone under 95th-percentile billing:
// the zone pays for max(committed, 95th-percentile peak) Mbps a month.
type BillingZone struct {
	// Name matches a NodeNetwork's status.billingZone or a node's
	// edgeplace.io/billing-zone label.
	Name string `json:"name"`
	// PricePerMbps is the monthly price of one Mbps of billed peak, for
	// example "12.5".
	PricePerMbps resource.Quantity `json:"pricePerMbps"`
	// CommittedMbps is bandwidth paid for whether used or not.
	CommittedMbps int64 `json:"committedMbps,omitempty"`
}
