package probe

import (
	"time"
)

// WritePolicy decides when a node's measurements are worth writing to the
// API server. Writes cost the API server and every informer watching
// NodeNetworks, so a probe writes when something moved, at most once per
// Interval, and otherwise only as a heartbeat that keeps its entries
// younger than the scheduler's measurement TTL.
type WritePolicy struct {
	// Interval is the shortest time between two writes.
	Interval time.Duration
	// Heartbeat is the longest time between two writes. Keep it well under
	// the scheduler's measurementTTL (5m by default).
	Heartbeat time.Duration
	// An RTT percentile has moved when it changed by more than the larger
	// of MinChange and RelativeChange times its last written value.
	MinChange      time.Duration
	RelativeChange float64
	// LossChange is the loss change, in parts per million, worth a write.
	LossChange int64
	// After a failed write the next one waits BackoffBase, doubling with
	// each further failure up to BackoffMax.
	BackoffBase, BackoffMax time.Duration
}

// DefaultWritePolicy suits a probe interval of a few seconds and the
// scheduler's default 5-minute TTL.
func DefaultWritePolicy() WritePolicy {
	return WritePolicy{
		Interval:       30 * time.Second,
		Heartbeat:      2 * time.Minute,
		MinChange:      time.Millisecond,
		RelativeChange: 0.10,
		LossChange:     50_000,
		BackoffBase:    time.Second,
		BackoffMax:     2 * time.Minute,
	}
}

// Summary is what a write publishes: per landmark, its window's statistics.
// Landmarks with too few answered probes are left out, so that the
// scheduler sees them as unmeasured rather than reading an old value.
type Summary map[string]Stats

// Decision is a policy's verdict and its reason, for logs and metrics.
type Decision struct {
	Write  bool
	Reason string // first, changed, heartbeat, requested, retry; unchanged, rate-limited, backoff
}

// writeState is the policy applied to one object's write history. It is
// used by one goroutine.
type writeState struct {
	policy    WritePolicy
	written   bool
	last      Summary
	lastWrite time.Time
	failures  int
	retryAt   time.Time
}

// decide says whether to write current at now. A write the scheduler asked
// for (requested: MeasureNow has measured) waits for nothing but a
// backoff: a placement rests on it.
func (s *writeState) decide(now time.Time, current Summary, requested bool) Decision {
	switch {
	case s.failures > 0 && now.Before(s.retryAt):
		return Decision{false, "backoff"}
	case s.failures > 0:
		return Decision{true, "retry"}
	case !s.written:
		return Decision{true, "first"}
	case requested:
		return Decision{true, "requested"}
	case now.Sub(s.lastWrite) < s.policy.Interval:
		return Decision{false, "rate-limited"}
	case now.Sub(s.lastWrite) >= s.policy.Heartbeat:
		return Decision{true, "heartbeat"}
	case s.moved(current):
		return Decision{true, "changed"}
	default:
		return Decision{false, "unchanged"}
	}
}

func (s *writeState) succeeded(now time.Time, written Summary) {
	s.written, s.last, s.lastWrite = true, written, now
	s.failures = 0
}

// failed records a failed write and returns how long the next one waits.
func (s *writeState) failed(now time.Time) time.Duration {
	s.failures++
	wait := s.policy.BackoffBase
	for i := 1; i < s.failures && wait < s.policy.BackoffMax; i++ {
		wait *= 2
	}
	wait = min(wait, s.policy.BackoffMax)
	s.retryAt = now.Add(wait)
	return wait
}

func (s *writeState) moved(current Summary) bool {
	if len(current) != len(s.last) {
		return true
	}
	for lm, cur := range current {
		old, ok := s.last[lm]
		if !ok || s.rttMoved(old.P50, cur.P50) || s.rttMoved(old.P90, cur.P90) {
			return true
		}
		if d := cur.LossPPM - old.LossPPM; d > s.policy.LossChange || -d > s.policy.LossChange {
			return true
		}
	}
	return false
}

func (s *writeState) rttMoved(old, cur time.Duration) bool {
	d := cur - old
	if d < 0 {
		d = -d
	}
	limit := max(s.policy.MinChange, time.Duration(s.policy.RelativeChange*float64(old)))
	return d > limit
}
