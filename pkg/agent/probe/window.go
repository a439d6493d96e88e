package probe

import (
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Sample is one probe's outcome: an RTT, or a loss (no answer within the
// timeout, refused, or any other failure).
type Sample struct {
	At   time.Time
	RTT  time.Duration
	Lost bool
}

// Stats summarises a window. Answered is the number of samples the RTT
// figures come from; with none answered the RTT figures are zero and
// meaningless.
type Stats struct {
	P50, P90 time.Duration
	// Jitter is the mean absolute difference between consecutive answered
	// samples.
	Jitter time.Duration
	// LossPPM is the share of the window's probes that got no answer, in
	// parts per million.
	LossPPM  int64
	Answered int
	Total    int
}

// Window keeps the last Capacity samples of one landmark, and of those only
// the ones younger than MaxAge count. Memory is bounded by Capacity. A
// Window is not safe for concurrent use.
type Window struct {
	samples []Sample // ring
	next    int
	full    bool
	maxAge  time.Duration
}

// NewWindow returns a window of the given capacity (at least 1) and maximum
// sample age (0: no age limit).
func NewWindow(capacity int, maxAge time.Duration) *Window {
	return &Window{samples: make([]Sample, max(capacity, 1)), maxAge: maxAge}
}

// Add records a sample, dropping the oldest when the window is full.
func (w *Window) Add(s Sample) {
	w.samples[w.next] = s
	w.next = (w.next + 1) % len(w.samples)
	if w.next == 0 {
		w.full = true
	}
}

// inOrder returns the samples oldest first, without those older than maxAge
// at now.
func (w *Window) inOrder(now time.Time, maxAge time.Duration) []Sample {
	var all []Sample
	if w.full {
		all = append(slices.Clone(w.samples[w.next:]), w.samples[:w.next]...)
	} else {
		all = slices.Clone(w.samples[:w.next])
	}
	if maxAge <= 0 {
		return all
	}
	cut := now.Add(-maxAge)
	return slices.DeleteFunc(all, func(s Sample) bool { return s.At.Before(cut) })
}

// Stats summarises the samples current at now.
func (w *Window) Stats(now time.Time) Stats { return w.StatsWithin(now, w.maxAge) }

// StatsWithin summarises the samples younger than maxAge at now (0: all):
// a site follower, probing at a fraction of the rate, looks as many times
// further back.
func (w *Window) StatsWithin(now time.Time, maxAge time.Duration) Stats {
	samples := w.inOrder(now, maxAge)
	st := Stats{Total: len(samples)}
	var rtts []float64
	var jitterSum float64
	var lost int64
	for _, s := range samples {
		if s.Lost {
			lost++
			continue
		}
		v := float64(s.RTT)
		if len(rtts) > 0 {
			d := v - rtts[len(rtts)-1]
			if d < 0 {
				d = -d
			}
			jitterSum += d
		}
		rtts = append(rtts, v)
	}
	if st.Total > 0 {
		st.LossPPM = lost * 1_000_000 / int64(st.Total)
	}
	st.Answered = len(rtts)
	if len(rtts) == 0 {
		return st
	}
	if len(rtts) > 1 {
		st.Jitter = time.Duration(jitterSum / float64(len(rtts)-1))
	}
	slices.Sort(rtts)
	st.P50 = time.Duration(stat.Quantile(0.5, stat.Empirical, rtts, nil))
	st.P90 = time.Duration(stat.Quantile(0.9, stat.Empirical, rtts, nil))
	return st
}
