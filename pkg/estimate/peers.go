package estimate

import (
	"slices"
)

// Median returns the median of values, or false for none.
func Median(values []float64) (float64, bool) {
	if len(values) == 0 {
		return 0, false
	}
	s := slices.Clone(values)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// peerCount is how many nearest known neighbours count as a host's peers
// when no site says who they are.
const peerCount = 5

// Peers estimates a pair (a, b) as the median of what a's peers measured to
// b. Here a host's peers are its peerCount nearest neighbours by measured
// RTT, the stand-in for "the same site" when hosts are not grouped.
type Peers struct {
	known map[[2]int]float64
	peers [][]int
}

// NewPeers indexes the known (symmetric, i < j keyed) RTT of n hosts.
func NewPeers(n int, known map[[2]int]float64, k int) *Peers {
	p := &Peers{known: known, peers: make([][]int, n)}
	near := make([][]struct {
		j   int
		rtt float64
	}, n)
	for key, v := range known {
		near[key[0]] = append(near[key[0]], struct {
			j   int
			rtt float64
		}{key[1], v})
		near[key[1]] = append(near[key[1]], struct {
			j   int
			rtt float64
		}{key[0], v})
	}
	for i := range near {
		slices.SortFunc(near[i], func(a, b struct {
			j   int
			rtt float64
		}) int {
			switch {
			case a.rtt < b.rtt:
				return -1
			case a.rtt > b.rtt:
				return 1
			}
			return a.j - b.j
		})
		for _, nb := range near[i][:min(k, len(near[i]))] {
			p.peers[i] = append(p.peers[i], nb.j)
		}
	}
	return p
}

// Estimate returns the median of a's peers' RTT to b.
func (p *Peers) Estimate(a, b int) (float64, bool) {
	var values []float64
	for _, peer := range p.peers[a] {
		if peer == b {
			continue
		}
		if v, ok := p.known[[2]int{min(peer, b), max(peer, b)}]; ok {
			values = append(values, v)
		}
	}
	return Median(values)
}
