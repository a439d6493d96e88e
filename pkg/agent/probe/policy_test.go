package probe

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	testclock "k8s.io/utils/clock/testing"
)

func TestWritePolicy(t *testing.T) {
	policy := WritePolicy{
		Interval:       10 * time.Second,
		Heartbeat:      60 * time.Second,
		MinChange:      time.Millisecond,
		RelativeChange: 0.10,
		LossChange:     50_000,
		BackoffBase:    time.Second,
		BackoffMax:     8 * time.Second,
	}
	ms := time.Millisecond
	base := Summary{"hz": {P50: 20 * ms, P90: 25 * ms}, "bj": {P50: 3 * ms, P90: 4 * ms}}
	with := func(lm string, f func(*Stats)) Summary {
		out := Summary{}
		for k, v := range base {
			out[k] = v
		}
		st := out[lm]
		f(&st)
		out[lm] = st
		return out
	}

	clk := testclock.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	s := writeState{policy: policy}
	step := func(d time.Duration, sum Summary, want Decision) {
		t.Helper()
		clk.Step(d)
		got := s.decide(clk.Now(), sum, false)
		assert.Equal(t, want, got, "at +%s", clk.Since(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)))
		if got.Write {
			s.succeeded(clk.Now(), sum)
		}
	}

	step(0, base, Decision{true, "first"})
	moved := with("hz", func(s *Stats) { s.P50 = 30 * ms })
	step(5*time.Second, moved, Decision{false, "rate-limited"})
	step(5*time.Second, moved, Decision{true, "changed"})
	// 30ms -> 32.5ms is under 10%; 1ms absolute floor for small values.
	step(10*time.Second, with("hz", func(s *Stats) { s.P50 = 32500 * time.Microsecond }), Decision{false, "unchanged"})
	step(10*time.Second, with("bj", func(s *Stats) { s.P50 = 30 * ms }), Decision{true, "changed"})
	last := s.last
	step(10*time.Second, with("bj", func(s *Stats) { s.P50 = 30 * ms; s.LossPPM = 40_000 }), Decision{false, "unchanged"})
	step(10*time.Second, with("bj", func(s *Stats) { s.P50 = 30 * ms; s.LossPPM = 60_000 }), Decision{true, "changed"})
	step(10*time.Second, Summary{"hz": last["hz"]}, Decision{true, "changed"}) // a landmark went away

	// Nothing moves: only heartbeats, one per 60s.
	quiet := s.last
	writesIn := func(d time.Duration) int {
		n := 0
		for range int(d / time.Second) {
			clk.Step(time.Second)
			if got := s.decide(clk.Now(), quiet, false); got.Write {
				assert.Equal(t, "heartbeat", got.Reason)
				s.succeeded(clk.Now(), quiet)
				n++
			}
		}
		return n
	}
	assert.Equal(t, 5, writesIn(5*time.Minute))

	// Failures back off 1s, 2s, 4s, 8s, 8s; success resets.
	var waits []time.Duration
	for range 5 {
		waits = append(waits, s.failed(clk.Now()))
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}, waits)
	step(7*time.Second, quiet, Decision{false, "backoff"})
	step(time.Second, quiet, Decision{true, "retry"})
	assert.Equal(t, time.Second, s.failed(clk.Now()), "a success resets the backoff")
}

// TestRequestedWrite: measurements the scheduler asked for are written at
// once, within the write interval and unchanged, but not during a backoff.
func TestRequestedWrite(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	sum := Summary{"hz": {P50: 20 * time.Millisecond, P90: 25 * time.Millisecond}}
	s := writeState{policy: DefaultWritePolicy()}
	require.True(t, s.decide(now, sum, false).Write)
	s.succeeded(now, sum)
	now = now.Add(time.Second)
	assert.Equal(t, Decision{false, "rate-limited"}, s.decide(now, sum, false))
	assert.Equal(t, Decision{true, "requested"}, s.decide(now, sum, true))
	s.failed(now)
	assert.Equal(t, Decision{false, "backoff"}, s.decide(now, sum, true))
}
