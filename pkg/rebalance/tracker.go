package rebalance

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/placement"
)

// Rule names which rule found a pod bad for long enough.
type Rule string

const (
	// RuleSLO: the pod's hard bounds were violated for SLOGrace.
	RuleSLO Rule = "slo"
	// RuleGap: the pod was behind the best node for GapGrace.
	RuleGap Rule = "gap"
)

// Tracker remembers, across passes, since when each pod has been bad by
// each rule and when each workload was last moved. A pod that is fine on
// one pass starts from zero on the next bad one: a network that flips
// between good and bad faster than the grace period never moves a pod.
// It is not safe for concurrent use; one pass runs at a time.
type Tracker struct {
	rules    Rules
	cooldown time.Duration
	pods     map[types.UID]*badness
	moved    map[types.UID]time.Time
	pass     uint64
}

type badness struct {
	violated, behind time.Time // zero: not bad by that rule
	pass             uint64    // the last pass that saw the pod
	skipped          string    // why it was last left where it is
}

// NewTracker returns a tracker for rules, resting a workload for cooldown
// after each move.
func NewTracker(rules Rules, cooldown time.Duration) *Tracker {
	return &Tracker{rules: rules, cooldown: cooldown, pods: map[types.UID]*badness{}, moved: map[types.UID]time.Time{}}
}

// Begin starts a pass; End forgets the pods it did not see (gone, or no
// longer judged), and the moves older than the cooldown.
func (t *Tracker) Begin() { t.pass++ }

func (t *Tracker) End(now time.Time) {
	for uid, b := range t.pods {
		if b.pass != t.pass {
			delete(t.pods, uid)
		}
	}
	for uid, at := range t.moved {
		if now.Sub(at) >= t.cooldown {
			delete(t.moved, uid)
		}
	}
}

// Observe records what the pass found of a pod and returns the rule that
// has held for its grace period ("" if none) and for how long it has.
// A violation comes first: its grace is the shorter one.
func (t *Tracker) Observe(pod types.UID, f Finding, now time.Time) (Rule, time.Duration) {
	b := t.pods[pod]
	if !f.Bad() {
		if b != nil {
			delete(t.pods, pod)
		}
		return "", 0
	}
	if b == nil {
		b = &badness{}
		t.pods[pod] = b
	}
	b.pass = t.pass
	b.violated = since(b.violated, f.Violation != placement.Meets, now)
	b.behind = since(b.behind, f.Behind, now)
	if !b.violated.IsZero() && now.Sub(b.violated) >= t.rules.SLOGrace {
		return RuleSLO, now.Sub(b.violated)
	}
	if !b.behind.IsZero() && now.Sub(b.behind) >= t.rules.GapGrace {
		return RuleGap, now.Sub(b.behind)
	}
	return "", 0
}

func since(start time.Time, holds bool, now time.Time) time.Time {
	switch {
	case !holds:
		return time.Time{}
	case start.IsZero():
		return now
	}
	return start
}

// Skipped records why a pod due to move stays where it is, and says
// whether the reason is new for it: a pod that stays bad is reported once
// per reason, not on every pass.
func (t *Tracker) Skipped(pod types.UID, reason string) bool {
	b := t.pods[pod]
	if b == nil || b.skipped == reason {
		return false
	}
	b.skipped = reason
	return true
}

// Moved starts a workload's cooldown; a pod moved afterwards starts its
// grace anew (its replacement is a new pod).
func (t *Tracker) Moved(workload types.UID, now time.Time) { t.moved[workload] = now }

// Cooling returns how much of a workload's cooldown is left (0: none).
func (t *Tracker) Cooling(workload types.UID, now time.Time) time.Duration {
	at, ok := t.moved[workload]
	if !ok {
		return 0
	}
	return max(0, t.cooldown-now.Sub(at))
}
