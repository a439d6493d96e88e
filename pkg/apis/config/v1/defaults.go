package v1

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of NetworkLatencyArgs.
const (
	// A probe refreshes its NodeNetwork at least every minute or so; five
	// minutes tolerates a few missed heartbeats before a node loses its data.
	DefaultMeasurementTTL     = 5 * time.Minute
	DefaultPercentile         = "p90"
	DefaultDemandWeight       = int32(1)
	DefaultMaxDemandLandmarks = int32(64)
	DefaultScoreWindowMin     = 2 * time.Millisecond
	DefaultScoreWindowPercent = int32(15)
	DefaultMinCandidates      = int32(100)
	// DefaultMeasureRequestsPerSecond is ondemand.DefaultPerSecond.
	DefaultMeasureRequestsPerSecond = int32(5)
)

// SetDefaults_NetworkLatencyArgs fills in every field the user left out.
func SetDefaults_NetworkLatencyArgs(obj *NetworkLatencyArgs) {
	if obj.MeasurementTTL == nil {
		obj.MeasurementTTL = &metav1.Duration{Duration: DefaultMeasurementTTL}
	}
	if obj.DefaultPercentile == nil {
		p := DefaultPercentile
		obj.DefaultPercentile = &p
	}
	if obj.DefaultDemandWeight == nil {
		w := DefaultDemandWeight
		obj.DefaultDemandWeight = &w
	}
	if obj.MaxDemandLandmarks == nil {
		n := DefaultMaxDemandLandmarks
		obj.MaxDemandLandmarks = &n
	}
	if obj.ScoreWindowMin == nil {
		obj.ScoreWindowMin = &metav1.Duration{Duration: DefaultScoreWindowMin}
	}
	if obj.ScoreWindowPercent == nil {
		p := DefaultScoreWindowPercent
		obj.ScoreWindowPercent = &p
	}
	if obj.RecordDecisions == nil {
		record := true
		obj.RecordDecisions = &record
	}
	if obj.MinCandidates == nil {
		n := DefaultMinCandidates
		obj.MinCandidates = &n
	}
	if obj.MeasureRequestsPerSecond == nil {
		n := DefaultMeasureRequestsPerSecond
		obj.MeasureRequestsPerSecond = &n
	}
}

// SetDefaults_BandwidthCostArgs fills in every field the user left out.
func SetDefaults_BandwidthCostArgs(obj *BandwidthCostArgs) {
	if obj.DefaultPricePerMbps == nil {
		zero := resource.MustParse("0")
		obj.DefaultPricePerMbps = &zero
	}
}
