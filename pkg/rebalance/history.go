package rebalance

import (
	"time"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// History is what the last passes measured from the rows the rebalancer
// weighs: per row, landmark and percentile, the RTT at each pass of a
// window of time. A probe's window covers its last few minutes, and on a
// network that jitters a site's last few minutes say little about its
// next ones: judged on them alone, a move is as likely to make things
// worse as better (bench/README, "Rebalancing"). So a move also needs the
// node it goes to to have done better over the window, as the workload's
// users would have had it. History is not safe for concurrent use; the
// plugin runs one pass at a time.
type History struct {
	window time.Duration
	starts []time.Time // of the passes in the window, oldest first
	first  int         // the pass number of starts[0]
	series map[seriesKey]*series
}

// seriesKey names a row by its NodeNetwork object and a landmark by name:
// row and landmark IDs are a snapshot's own.
type seriesKey struct {
	object, landmark string
	percentile       netmap.Percentile
}

// series is one pair's RTT from pass from on, each pass's in two bytes
// (step): at 100,000 pods the history holds millions of these.
type series struct {
	from int
	rtt  []step
}

// at is the RTT in a pass (us), -1 when not measured (or never noted: s
// nil).
func (s *series) at(pass int) int32 {
	if s == nil || pass < s.from || pass >= s.from+len(s.rtt) {
		return -1
	}
	return s.rtt[pass-s.from].us()
}

// step is an RTT rounded up to 10 us steps up to 327.67 ms, to whole
// milliseconds from 328 ms up to about 33 s, or notMeasured. Rounded up,
// never down, so that an RTT over a bound stays over it.
type step uint16

const (
	notMeasured  step = 0xFFFF
	maxStep      step = notMeasured - 1
	fineSteps         = 0x8000 // steps of fineUS below this one
	fineUS            = 10
	coarseUS          = 1000
	coarseFromUS      = 328_000 // the first coarse step's RTT: a whole millisecond past the fine steps
)

func toStep(us int32) step {
	if us < 0 {
		return notMeasured
	}
	if fine := (int64(us) + fineUS - 1) / fineUS; fine < fineSteps {
		return step(fine)
	}
	coarse := max(0, (int64(us)-coarseFromUS+coarseUS-1)/coarseUS)
	return step(min(fineSteps+coarse, int64(maxStep)))
}

func (s step) us() int32 {
	switch {
	case s == notMeasured:
		return -1
	case s < fineSteps:
		return int32(s) * fineUS
	}
	return coarseFromUS + int32(s-fineSteps)*coarseUS
}

// NewHistory keeps the passes of the last window.
func NewHistory(window time.Duration) *History {
	return &History{window: window, series: map[seriesKey]*series{}}
}

// Begin starts a pass: passes older than the window, and the pairs no pass
// in it measured, are forgotten.
func (h *History) Begin(now time.Time) {
	h.starts = append(h.starts, now)
	drop := 0
	for drop < len(h.starts)-1 && now.Sub(h.starts[drop]) > h.window {
		drop++
	}
	h.starts = h.starts[drop:]
	h.first += drop
	for k, s := range h.series {
		if cut := h.first - s.from; cut >= len(s.rtt) {
			delete(h.series, k)
		} else if cut > 0 {
			// Moved down rather than resliced, so that the next appends
			// reuse the array instead of growing a new one.
			s.rtt = s.rtt[:copy(s.rtt, s.rtt[cut:])]
			s.from = h.first
		}
	}
}

// Series returns how many (row, landmark, percentile) series it keeps.
func (h *History) Series() int { return len(h.series) }

func (h *History) pass() int { return h.first + len(h.starts) - 1 }

// Note records, once per pass, what the view measures from row to each of
// the landmarks at percentile p (estimates are not measurements and are
// not kept).
func (h *History) Note(view netmap.View, row int32, landmarks []int32, p netmap.Percentile, name func(int32) string) {
	object := view.RowObject(row)
	if object == "" || len(h.starts) == 0 {
		return
	}
	now := h.pass()
	for _, lm := range landmarks {
		k := seriesKey{object: object, landmark: name(lm), percentile: p}
		s := h.series[k]
		if s == nil {
			s = &series{from: now}
			h.series[k] = s
		}
		if s.from+len(s.rtt) > now {
			continue // noted this pass already
		}
		for s.from+len(s.rtt) < now {
			s.rtt = append(s.rtt, notMeasured)
		}
		rtt, fresh := view.RTT(row, lm, p)
		if !fresh {
			rtt = -1
		}
		s.rtt = append(s.rtt, toStep(rtt))
	}
}

// Outcome is how a workload's users did over the window on a set of rows,
// each reaching its nearest: in how many passes some user was over the
// bound, and the mean of the passes' demand-weighted RTT (us).
type Outcome struct {
	Over   int
	MeanUS float64
}

// Comparison is how users did over the window on some rows (Before),
// against how they would have done with one replica elsewhere (After),
// over the Passes both can be judged on, which cover Span.
type Comparison struct {
	Before, After Outcome
	Passes        int
	Span          time.Duration
}

// Compare is how the users at landmarks (with their weights) did with the
// workload on the rows before, each reaching the nearest, against how they
// would have done on the rows after: the replica in question moved from
// before[0] to after[0], the others (the rest of each) where they are. It
// counts the passes in which the replica's two rows were measured to every
// landmark; Span runs from the first of them to now.
func (h *History) Compare(before, after []string, landmarks []string, weights []int64, p netmap.Percentile, bound int32) Comparison {
	lookup := func(objects []string) [][]*series {
		out := make([][]*series, len(landmarks))
		for i, lm := range landmarks {
			for j, o := range objects {
				s := h.series[seriesKey{object: o, landmark: lm, percentile: p}]
				if s != nil || j == 0 {
					out[i] = append(out[i], s) // the replica's own row stays first, nil if never noted
				}
			}
		}
		return out
	}
	bs, as := lookup(before), lookup(after)
	var c Comparison
	var bSum, aSum float64
	firstJoint := -1
	for pass := h.first; pass <= h.pass(); pass++ {
		bOver, bMean, bOK := outcomeAt(bs, weights, pass, bound)
		aOver, aMean, aOK := outcomeAt(as, weights, pass, bound)
		if !bOK || !aOK {
			continue
		}
		if firstJoint < 0 {
			firstJoint = pass
		}
		c.Passes++
		if bOver {
			c.Before.Over++
		}
		if aOver {
			c.After.Over++
		}
		bSum += bMean
		aSum += aMean
	}
	if c.Passes == 0 {
		return c
	}
	c.Before.MeanUS, c.After.MeanUS = bSum/float64(c.Passes), aSum/float64(c.Passes)
	c.Span = h.starts[len(h.starts)-1].Sub(h.starts[firstJoint-h.first])
	return c
}

// outcomeAt is one pass of Compare: whether some landmark's nearest row
// was over bound (0: no bound), and the weighted mean of the nearest RTTs;
// not ok when the first row (the replica's) was not measured to each.
func outcomeAt(bySeries [][]*series, weights []int64, pass int, bound int32) (over bool, mean float64, ok bool) {
	var sum, total float64
	for i, ss := range bySeries {
		nearest := int32(-1)
		for j, s := range ss {
			rtt := s.at(pass)
			if j == 0 && rtt < 0 {
				return false, 0, false
			}
			if rtt >= 0 && (nearest < 0 || rtt < nearest) {
				nearest = rtt
			}
		}
		if nearest < 0 {
			return false, 0, false
		}
		over = over || (bound > 0 && nearest > bound)
		sum += float64(weights[i]) * float64(nearest)
		total += float64(weights[i])
	}
	if total == 0 {
		return false, 0, false
	}
	return over, sum / total, true
}
