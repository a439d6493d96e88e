package rebalance

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks defaulted args; each error names the field and value.
func Validate(args *EdgeplaceRebalanceArgs) error {
	var errs field.ErrorList
	for _, d := range []struct {
		name  string
		value fmt.Stringer
		bad   bool
	}{
		{"measurementTTL", args.MeasurementTTL.Duration, args.MeasurementTTL.Duration < 0},
		{"sloGracePeriod", args.SLOGracePeriod.Duration, args.SLOGracePeriod.Duration < 0},
		{"gapGracePeriod", args.GapGracePeriod.Duration, args.GapGracePeriod.Duration < 0},
		{"minGap", args.MinGap.Duration, args.MinGap.Duration < 0},
		{"historyWindow", args.HistoryWindow.Duration, args.HistoryWindow.Duration < 0},
		{"cooldown", args.Cooldown.Duration, args.Cooldown.Duration < 0},
	} {
		if d.bad {
			errs = append(errs, field.Invalid(field.NewPath(d.name), d.value.String(), "must not be negative (0: the default)"))
		}
	}
	if p := args.JudgePercentile; p != "" && p != "p50" && p != "p90" {
		errs = append(errs, field.NotSupported(field.NewPath("judgePercentile"), p, []string{"p50", "p90"}))
	}
	if p := args.MinGapPercent; p != nil && (*p < 0 || *p > 1000) {
		errs = append(errs, field.Invalid(field.NewPath("minGapPercent"), *p, "must be 0..1000"))
	}
	if p := args.HistoryMarginPercent; p != nil && (*p < 0 || *p > 100) {
		errs = append(errs, field.Invalid(field.NewPath("historyMarginPercent"), *p, "must be 0..100"))
	}
	if r := args.MinReplicas; r != nil && *r < 0 {
		errs = append(errs, field.Invalid(field.NewPath("minReplicas"), *r, "must not be negative"))
	}
	if m := args.MaxEvictionsPerMinute; m != nil && *m < 1 {
		errs = append(errs, field.Invalid(field.NewPath("maxEvictionsPerMinute"), *m, "must be at least 1; a dry run (--dry-run) evicts nothing"))
	}
	return errs.ToAggregate()
}
