// Package rebalance decides when a running pod's placement has gone bad
// enough to move it: what the edgeplace descheduler plugin
// (plugins/rebalance) asks on every pass. It judges a pod with the same
// placement core the scheduler places it with (pkg/placement), on fresh
// measurements only, and keeps the hysteresis that stops a noisy network
// from moving pods back and forth: a pod must be bad for a grace period
// before it is moved, and its workload then rests for a cooldown.
package rebalance

import (
	"time"

	"github.com/edgeplace/edgeplace/pkg/placement"
)

// Rules are when a pod has gone bad, and how long it must stay so.
type Rules struct {
	// SLOGrace is how long a pod's hard bounds (RTT, loss, jitter, the
	// dependency's RTT) must be violated on fresh measurements.
	SLOGrace time.Duration
	// GapGrace is how long the pod's demand-weighted RTT must be behind
	// the best node's by more than max(MinGap, MinGapPercent% of the
	// best).
	GapGrace      time.Duration
	MinGap        time.Duration
	MinGapPercent int32
}

// Finding is what a pass sees of one pod.
type Finding struct {
	// Violation is why the pod's node misses its bounds (placement.Meets:
	// it does not, or it is not known).
	Violation placement.Verdict
	// Behind says the pod's node is behind the best by more than the gap.
	Behind bool
	// RTT is the pod's demand-weighted RTT on its node (us), -1 unknown.
	RTT int32
	// Best is the nearest other row that meets the pod's bounds, with its
	// RTT; Row -1 when there is none.
	Best placement.Ranked
}

// Bad says whether either rule holds.
func (f Finding) Bad() bool { return f.Violation != placement.Meets || f.Behind }

// Judge holds the pod on row to the rules. req must accept measurements
// only (its Accept 0): estimates never make a pod bad. best is the rows
// that meet req, nearest first (placement.Request.Best); the pod's own row
// is skipped in it.
func (r Rules) Judge(req *placement.Request, row int32, best []placement.Ranked) Finding {
	f := Finding{RTT: req.RowRTT(row), Best: placement.Ranked{Row: -1, RTT: -1}}
	for _, b := range best {
		if b.Row != row {
			f.Best = b
			break
		}
	}
	if req.HoldsRows() {
		switch v := req.Check(row); v {
		case placement.OverSLO, placement.OverDependency, placement.OverLoss, placement.OverJitter:
			f.Violation = v
		}
	}
	if f.RTT >= 0 && f.Best.Row >= 0 {
		f.Behind = f.RTT-f.Best.RTT > r.gap(f.Best.RTT)
	}
	return f
}

// gap is how far behind a node at best (us) a pod may be without counting
// as behind.
func (r Rules) gap(bestUS int32) int32 {
	return max(int32(r.MinGap/time.Microsecond), bestUS*r.MinGapPercent/100)
}

// Improves says whether a node at rtt (us) is worth moving a pod to: it
// must be ahead of the pod's node by the gap, whichever rule found the pod
// bad (for a violation, the caller's list holds only nodes that meet the
// bounds). On a noisy network a node that only just meets an SLO the pod's
// node only just misses is as likely to miss it next.
func (r Rules) Improves(f Finding, rtt int32) bool {
	if rtt < 0 {
		return false
	}
	if f.RTT < 0 {
		return f.Violation != placement.Meets // loss or jitter with no RTT to compare
	}
	return f.RTT-rtt > r.gap(rtt)
}
