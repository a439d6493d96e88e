package rebalance

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1 "github.com/edgeplace/edgeplace/pkg/apis/config/v1"
)

// Defaults: what an operator who would rather lose latency than
// availability accepts without tuning.
const (
	DefaultSchedulerName         = "edgeplace-scheduler"
	DefaultJudgePercentile       = "p50"
	DefaultSLOGracePeriod        = 5 * time.Minute
	DefaultGapGracePeriod        = 15 * time.Minute
	DefaultMinGap                = 5 * time.Millisecond
	DefaultMinGapPercent         = int32(30)
	DefaultHistoryWindow         = time.Hour
	DefaultHistoryMarginPercent  = int32(10)
	DefaultCooldown              = 30 * time.Minute
	DefaultMinReplicas           = int32(2)
	DefaultMaxEvictionsPerMinute = int32(6)
)

// SetDefaults fills the fields left unset.
func SetDefaults(obj *EdgeplaceRebalanceArgs) {
	if obj.SchedulerName == "" {
		obj.SchedulerName = DefaultSchedulerName
	}
	if obj.JudgePercentile == "" {
		obj.JudgePercentile = DefaultJudgePercentile
	}
	duration(&obj.MeasurementTTL, configv1.DefaultMeasurementTTL)
	duration(&obj.SLOGracePeriod, DefaultSLOGracePeriod)
	duration(&obj.GapGracePeriod, DefaultGapGracePeriod)
	duration(&obj.MinGap, DefaultMinGap)
	duration(&obj.HistoryWindow, DefaultHistoryWindow)
	duration(&obj.Cooldown, DefaultCooldown)
	integer(&obj.MinGapPercent, DefaultMinGapPercent)
	integer(&obj.HistoryMarginPercent, DefaultHistoryMarginPercent)
	integer(&obj.MinReplicas, DefaultMinReplicas)
	integer(&obj.MaxEvictionsPerMinute, DefaultMaxEvictionsPerMinute)
}

func duration(d *metav1.Duration, def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}

func integer(p **int32, def int32) {
	if *p == nil {
		v := def
		*p = &v
	}
}
