// Package estimate fills in RTT that was not measured: from peers that sit
// in the same place (the median of what they measured), or from network
// coordinates (Vivaldi with height vectors) fitted on every measurement.
package estimate

import (
	"math"
	"math/rand/v2"
)

// Parameters of Vivaldi (Dabek et al., SIGCOMM 2004).
const (
	// dims is the Euclidean part of a coordinate; the height models the
	// access link every path from a host pays.
	dims = 4
	// minHeight keeps heights positive, as access links are.
	minHeight = 0.1
)

// Coord is a host's network coordinate: a point, a height, and how wrong
// the host believes its coordinate is (0..1, relative).
type Coord struct {
	X      [dims]float64
	Height float64
	Error  float64
}

// Space holds the coordinates of a set of hosts, by index. It is not safe
// for concurrent use; an estimator owns its spaces and updates them off the
// hot path.
type Space struct {
	coords []Coord
	rng    *rand.Rand
	// adapt is Vivaldi's cc and ce: how fast coordinates and local error
	// follow a sample (Params.Adapt).
	adapt float64
	// height is where a new host's height starts; 0: hosts have none.
	height float64
	// short, when set, is the RTT (ms) above which a sample moves
	// coordinates less, in proportion (Params.ShortFirst).
	short float64
}

// NewSpace returns a space for n hosts, all at the origin with error 1,
// fitted with the default parameters.
func NewSpace(n int, seed uint64) *Space {
	return newSpace(n, seed, DefaultParams())
}

func newSpace(n int, seed uint64, p Params) *Space {
	s := &Space{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), adapt: p.Adapt}
	if p.Heights {
		s.height = minHeight
	}
	s.Grow(n)
	return s
}

// Grow adds hosts up to n.
func (s *Space) Grow(n int) {
	for len(s.coords) < n {
		s.coords = append(s.coords, Coord{Height: s.height, Error: 1})
	}
}

// Predict is the RTT the coordinates give between hosts i and j.
func (s *Space) Predict(i, j int) float64 {
	a, b := &s.coords[i], &s.coords[j]
	return distance(a, b) + a.Height + b.Height
}

func distance(a, b *Coord) float64 {
	var d float64
	for k := range dims {
		diff := a.X[k] - b.X[k]
		d += diff * diff
	}
	return math.Sqrt(d)
}

// Observe moves both hosts' coordinates toward agreeing with one measured
// RTT (ms): the host less sure of its coordinate moves more.
func (s *Space) Observe(i, j int, rtt float64) {
	if i == j || rtt <= 0 || math.IsNaN(rtt) || math.IsInf(rtt, 0) {
		return
	}
	s.update(i, j, rtt)
	s.update(j, i, rtt)
}

// update moves host i with respect to host j.
func (s *Space) update(i, j int, rtt float64) {
	a, b := &s.coords[i], &s.coords[j]
	dist := distance(a, b)
	predicted := dist + a.Height + b.Height
	w := a.Error / (a.Error + b.Error)
	sampleErr := math.Abs(predicted-rtt) / rtt
	a.Error = min(1, sampleErr*s.adapt*w+a.Error*(1-s.adapt*w))
	delta := s.adapt * w
	if s.short > 0 && rtt > s.short {
		delta *= s.short / rtt
	}
	force := delta * (rtt - predicted) // > 0: too close, move apart
	// The unit vector of [x_a - x_b, h_a + h_b], whose norm is the predicted
	// RTT; hosts at the same point move apart in a random direction.
	var dir [dims]float64
	if dist < 1e-9 {
		var n float64
		for k := range dims {
			dir[k] = s.rng.Float64() - 0.5
			n += dir[k] * dir[k]
		}
		n = math.Sqrt(n)
		for k := range dims {
			dir[k] /= n
		}
		dist = 1
		predicted = 1 + a.Height + b.Height
	} else {
		for k := range dims {
			dir[k] = (a.X[k] - b.X[k]) / dist
		}
	}
	for k := range dims {
		a.X[k] += force * dir[k] * dist / predicted
	}
	if s.height > 0 {
		a.Height = max(minHeight, a.Height+force*(a.Height+b.Height)/predicted)
	}
}

// Fit runs passes over the samples in random order, from the current
// coordinates; each sample is (i, j, rtt). It reorders samples.
func (s *Space) Fit(samples []Sample, passes int) {
	for range passes {
		// Shuffled in place, the samples are then read in sequence: with
		// 600,000 of them (10,000 nodes x 64 landmarks) the first fit took
		// half the time it took reading them through a shuffled index.
		s.rng.Shuffle(len(samples), func(a, b int) { samples[a], samples[b] = samples[b], samples[a] })
		for _, m := range samples {
			s.Observe(m.I, m.J, m.RTT)
		}
	}
}

// Sample is one measured RTT (ms) between hosts I and J.
type Sample struct {
	I, J int
	RTT  float64
}
