package rebalance

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +k8s:deepcopy-gen=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EdgeplaceRebalanceArgs configures the EdgeplaceRebalance plugin, in the
// DeschedulerPolicy's pluginConfig. Every field has a default
// (SetDefaults); a zero duration means the default.
type EdgeplaceRebalanceArgs struct {
	metav1.TypeMeta `json:",inline"`

	// SchedulerName: only pods of this scheduler are moved, since only it
	// places their replacements by latency.
	SchedulerName string `json:"schedulerName,omitempty"`
	// MeasurementTTL is how long a measurement counts as fresh, as in the
	// scheduler's NetworkLatency args; keep the two equal.
	MeasurementTTL metav1.Duration `json:"measurementTTL,omitempty"`
	// JudgePercentile is the figure of each measurement window a pod is
	// judged bad on: p50 (the default) or p90. The probe keeps a window of
	// its last 5 minutes, so one bad minute holds a window's p90 high for
	// 5 minutes, as long as the default grace period: judged on p90, a
	// single spike would move a pod. Judged on p50, most of the window must
	// be bad. Where the pod goes is still held to its own percentile, as
	// the scheduler holds it.
	JudgePercentile string `json:"judgePercentile,omitempty"`
	// SLOGracePeriod is how long a pod's hard bounds (edgeplace.io/max-rtt,
	// max-loss, max-jitter, depends-on-max-rtt) must be violated on fresh
	// measurements before it is moved.
	SLOGracePeriod metav1.Duration `json:"sloGracePeriod,omitempty"`
	// GapGracePeriod is how long the pod's demand-weighted RTT must be
	// behind the best node that fits it by more than max(MinGap,
	// MinGapPercent% of the best) before it is moved.
	GapGracePeriod metav1.Duration `json:"gapGracePeriod,omitempty"`
	MinGap         metav1.Duration `json:"minGap,omitempty"`
	MinGapPercent  *int32          `json:"minGapPercent,omitempty"`
	// HistoryWindow is how far back a move is checked: the node a bad pod
	// would go to must have done better than the pod's own over this
	// window (by HistoryMarginPercent for the SLO rule, by the gap for the
	// gap rule), as the workload's users would have had it, each reaching
	// the nearest replica. On a network that jitters, the last few
	// minutes alone pick a target that is as likely worse as better.
	HistoryWindow metav1.Duration `json:"historyWindow,omitempty"`
	// HistoryMarginPercent: for the SLO rule, the users must have been
	// over the SLO in at least this share of the window's passes fewer
	// with the move, at a mean RTT no higher.
	HistoryMarginPercent *int32 `json:"historyMarginPercent,omitempty"`
	// Cooldown is how long a workload rests after one of its pods is
	// moved: no other pod of it is moved in that time.
	Cooldown metav1.Duration `json:"cooldown,omitempty"`
	// MinReplicas: workloads that want fewer replicas are never moved
	// (moving the only replica is downtime).
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxEvictionsPerMinute bounds the evictions across the cluster.
	MaxEvictionsPerMinute *int32 `json:"maxEvictionsPerMinute,omitempty"`
	// PlaceReplacementOnTarget: before evicting a pod, write the node it
	// is expected on (the one the history vouched for) on it, so that the
	// scheduler places the replacement there if the node still takes it
	// (v1alpha1.ReplacementNodeAnnotation). Off by default: on the
	// Seattle replay the scheduler's own choice did better (bench/README,
	// "Rebalancing"). It needs patch on pods, which the shipped RBAC
	// leaves out (manifests/descheduler/rbac-replacement-node.yaml).
	PlaceReplacementOnTarget bool `json:"placeReplacementOnTarget,omitempty"`
}
