// Package validation checks edgeplace plugin args after defaulting.
package validation

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
)

// Bounds on NetworkLatencyArgs. They are wide: they exist to catch unit
// mistakes ("5" meaning nanoseconds, a percent of 2000) at start-up.
const (
	maxMeasurementTTL     = 24 * time.Hour
	maxScoreWindowMin     = 10 * time.Second
	maxScoreWindowPercent = 1000
	maxDemandWeight       = 1_000_000
	maxMbps               = 10_000_000
	maxMinCandidates      = 100_000
	// Every request is an API write, and a probe's burst is MinSamples
	// probes: 1000 a second is far more than any cluster needs.
	maxMeasureRequestsPerSecond = 1000
)

// MaxDemandLandmarks is the most landmarks NetworkLatency's args may allow
// one pod.
const MaxDemandLandmarks = 1024

// ValidateNetworkLatencyArgs returns every problem with args; path is where
// the args sit in the configuration, so that messages name the field.
func ValidateNetworkLatencyArgs(path *field.Path, args *config.NetworkLatencyArgs) field.ErrorList {
	var errs field.ErrorList
	if ttl := args.MeasurementTTL.Duration; ttl <= 0 || ttl > maxMeasurementTTL {
		errs = append(errs, field.Invalid(path.Child("measurementTTL"), args.MeasurementTTL.Duration.String(),
			"must be greater than 0 and at most "+maxMeasurementTTL.String()))
	}
	switch args.DefaultPercentile {
	case config.P50, config.P90:
	default:
		errs = append(errs, field.NotSupported(path.Child("defaultPercentile"), args.DefaultPercentile,
			[]config.Percentile{config.P50, config.P90}))
	}
	if w := args.DefaultDemandWeight; w < 1 || w > maxDemandWeight {
		errs = append(errs, field.Invalid(path.Child("defaultDemandWeight"), w, "must be between 1 and 1000000"))
	}
	if n := args.MaxDemandLandmarks; n < 1 || n > MaxDemandLandmarks {
		errs = append(errs, field.Invalid(path.Child("maxDemandLandmarks"), n, "must be between 1 and 1024"))
	}
	if w := args.ScoreWindowMin.Duration; w <= 0 || w > maxScoreWindowMin {
		errs = append(errs, field.Invalid(path.Child("scoreWindowMin"), args.ScoreWindowMin.Duration.String(),
			"must be greater than 0 and at most "+maxScoreWindowMin.String()))
	}
	if p := args.ScoreWindowPercent; p < 0 || p > maxScoreWindowPercent {
		errs = append(errs, field.Invalid(path.Child("scoreWindowPercent"), p, "must be between 0 and 1000"))
	}
	if n := args.MinCandidates; n < 0 || n > maxMinCandidates {
		errs = append(errs, field.Invalid(path.Child("minCandidates"), n, "must be between 0 and 100000"))
	}
	if n := args.MeasureRequestsPerSecond; n < 0 || n > maxMeasureRequestsPerSecond {
		errs = append(errs, field.Invalid(path.Child("measureRequestsPerSecond"), n, "must be between 0 and 1000"))
	}
	return errs
}

// ValidateBandwidthCostArgs returns every problem with args.
func ValidateBandwidthCostArgs(path *field.Path, args *config.BandwidthCostArgs) field.ErrorList {
	var errs field.ErrorList
	if args.DefaultPricePerMbps.Sign() < 0 {
		errs = append(errs, field.Invalid(path.Child("defaultPricePerMbps"), args.DefaultPricePerMbps.String(), "must not be negative"))
	}
	seen := map[string]bool{}
	for i, z := range args.Zones {
		p := path.Child("zones").Index(i)
		switch {
		case z.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case seen[z.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), z.Name))
		}
		seen[z.Name] = true
		if z.PricePerMbps.Sign() < 0 {
			errs = append(errs, field.Invalid(p.Child("pricePerMbps"), z.PricePerMbps.String(), "must not be negative"))
		}
		if z.CommittedMbps < 0 || z.CommittedMbps > maxMbps {
			errs = append(errs, field.Invalid(p.Child("committedMbps"), z.CommittedMbps, "must be between 0 and 10000000"))
		}
	}
	return errs
}
