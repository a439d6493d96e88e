// Package rebalance decides when a running pod's placement has gone bad
// enough to move it: what the edgeplace descheduler plugin
// (plugins/rebalance) asks on every pass. It judges a pod with the same
// placement core the scheduler places it with (pkg/placement), on fresh
// measurements only, and keeps the hysteresis that stops a noisy network
// from moving pods back and forth: a pod must be bad for a grace period
// before it is moved, and its workload then rests for a cooldown.
package rebalance

import (
	"fmt"
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
	// HistoryMarginPercent is by how much a move must have helped over the
	// history window, had it been made at its start, for an SLO move: the
	// users over the SLO in at least this share of the window's passes
	// fewer (and at least one fewer).
	HistoryMarginPercent int32
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

// Confirmed says whether the history bears a move out, had it been made at
// the start of the window. On the landmarks the pod is judged on (pod:
// its row against the target's), by the measure of the rule that found
// it bad:
//   - RuleSLO, over the RTT SLO: over it in HistoryMarginPercent% of the
//     passes fewer (at least one), at a mean RTT no higher; for a loss,
//     jitter or dependency bound, which the history does not keep, a mean
//     RTT no higher;
//   - RuleGap: a mean RTT lower by the gap, over the SLO no more often.
//
// And the workload's users as a whole, each reaching the nearest replica
// (workload), would have been over the SLO no more often, at a mean RTT
// no more than MinGap higher: a replica moved next to its own users must
// not leave others worse off, but a replica whose users a sibling serves
// for now (so that moving it changes little for them) may still go where
// it would serve them again. The pod's history must cover the rule's grace period:
// a target seen for less time than the pod was bad has shown nothing yet.
// The reason says what the history showed when it does not bear the move
// out.
func (r Rules) Confirmed(rule Rule, rttBound bool, pod, workload Comparison) (bool, string) {
	grace := r.SLOGrace
	if rule == RuleGap {
		grace = r.GapGrace
	}
	b, a := pod.Before, pod.After
	switch {
	case pod.Passes == 0 || pod.Span < grace:
		return false, fmt.Sprintf("the two were measured together for %s, less than the grace period of %s", pod.Span.Round(time.Second), grace)
	case rule == RuleGap:
		if b.MeanUS-a.MeanUS <= float64(r.gap(int32(a.MeanUS))) || a.Over > b.Over {
			return false, fmt.Sprintf("over the last %d passes it would have had a mean RTT of %s against %s here, over the SLO in %d against %d: not ahead by the gap",
				pod.Passes, usText(a.MeanUS), usText(b.MeanUS), a.Over, b.Over)
		}
	case rttBound:
		need := max(1, int((int64(pod.Passes)*int64(r.HistoryMarginPercent)+99)/100))
		if b.Over-a.Over < need || a.MeanUS > b.MeanUS {
			return false, fmt.Sprintf("over the last %d passes it would have been over the SLO in %d against %d here (%d fewer needed), at a mean RTT of %s against %s",
				pod.Passes, a.Over, b.Over, need, usText(a.MeanUS), usText(b.MeanUS))
		}
	default:
		if a.MeanUS > b.MeanUS {
			return false, fmt.Sprintf("over the last %d passes it would have had a mean RTT of %s against %s here", pod.Passes, usText(a.MeanUS), usText(b.MeanUS))
		}
	}
	if wb, wa := workload.Before, workload.After; workload.Passes > 0 && (wa.Over > wb.Over || wa.MeanUS > wb.MeanUS+float64(r.MinGap/time.Microsecond)) {
		return false, fmt.Sprintf("over the last %d passes the workload's users as a whole would have been over the SLO in %d against %d, at a mean RTT of %s against %s",
			workload.Passes, wa.Over, wb.Over, usText(wa.MeanUS), usText(wb.MeanUS))
	}
	return true, ""
}

func usText(us float64) string {
	return (time.Duration(us) * time.Microsecond).Round(100 * time.Microsecond).String()
}
