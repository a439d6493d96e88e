package probe

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowStats(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name     string
		capacity int
		maxAge   time.Duration
		rtts     []time.Duration // 0 is a loss
		want     Stats
	}{{
		name:     "empty",
		capacity: 8,
		want:     Stats{},
	}, {
		name:     "one to ten",
		capacity: 16,
		rtts:     []time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms, 10 * ms},
		// Empirical quantiles: the smallest sample with CDF >= p.
		want: Stats{P50: 5 * ms, P90: 9 * ms, Jitter: 1 * ms, Answered: 10, Total: 10},
	}, {
		name:     "jitter is the mean absolute step between answered samples",
		capacity: 16,
		rtts:     []time.Duration{10 * ms, 14 * ms, 10 * ms, 0, 16 * ms},
		// steps 4, 4, 6 (the loss is skipped): mean 14/3 ms
		want: Stats{P50: 10 * ms, P90: 16 * ms, Jitter: 14 * ms / 3, LossPPM: 200_000, Answered: 4, Total: 5},
	}, {
		name:     "all lost",
		capacity: 4,
		rtts:     []time.Duration{0, 0, 0},
		want:     Stats{LossPPM: 1_000_000, Total: 3},
	}, {
		name:     "capacity keeps the newest",
		capacity: 3,
		rtts:     []time.Duration{100 * ms, 100 * ms, 0, 5 * ms, 5 * ms, 5 * ms},
		want:     Stats{P50: 5 * ms, P90: 5 * ms, Answered: 3, Total: 3},
	}, {
		name:     "samples past the maximum age do not count",
		capacity: 16,
		maxAge:   3500 * ms, // samples are 1s apart; the last four count
		rtts:     []time.Duration{50 * ms, 50 * ms, 0, 2 * ms, 2 * ms, 4 * ms},
		want:     Stats{P50: 2 * ms, P90: 4 * ms, Jitter: 1 * ms, LossPPM: 250_000, Answered: 3, Total: 4},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindow(tc.capacity, tc.maxAge)
			at := t0
			for _, rtt := range tc.rtts {
				w.Add(Sample{At: at, RTT: rtt, Lost: rtt == 0})
				at = at.Add(time.Second)
			}
			got := w.Stats(at.Add(-time.Second))
			assert.Equal(t, tc.want, got)
		})
	}
}
