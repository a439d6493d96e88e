package app

import (
	"cmp"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

// Outcome is one profile's placements and what they give the users.
type Outcome struct {
	Profile string
	// Nodes and Pending are read back from the API server per workload.
	Nodes   map[string][]string
	Pending map[string]string

	// RTT is each placed workload's demand-weighted p90 RTT from its users
	// to their nearest replica.
	RTT map[string]time.Duration
	// Violations are workloads placed beyond their SLO although some node
	// meets it.
	Violations map[string]bool
	// Cost is each workload's monthly bandwidth bill: its egress times its
	// nodes' zone price.
	Cost map[string]float64

	// MeanRTT and P90RTT are over the users of the workloads both
	// profiles placed (see summarize).
	MeanRTT, P90RTT time.Duration
	SLOViolations   int
	TotalCost       float64

	points map[string][]point // per workload: each population's RTT and share
}

type point struct {
	rtt    time.Duration
	weight float64
}

// summarize fills both outcomes' user RTT figures over the workloads both
// placed, so that a workload one of them refused does not flatter or burden
// it.
func summarize(a, b *Outcome) {
	for _, o := range []*Outcome{a, b} {
		var points []point
		for name, ps := range o.points {
			if len(a.points[name]) > 0 && len(b.points[name]) > 0 {
				points = append(points, ps...)
			}
		}
		o.MeanRTT, o.P90RTT = weightedMeanP90(points)
	}
}

func weightedMeanP90(points []point) (mean, p90 time.Duration) {
	var sum, total float64
	for _, p := range points {
		sum += p.weight * float64(p.rtt)
		total += p.weight
	}
	if total == 0 {
		return 0, 0
	}
	slices.SortFunc(points, func(a, b point) int { return cmp.Compare(a.rtt, b.rtt) })
	var acc float64
	for _, p := range points {
		acc += p.weight
		if acc >= 0.9*total {
			p90 = p.rtt
			break
		}
	}
	return time.Duration(sum / total), p90
}

// measure judges the placements with the RTT model (the same the
// measurements came from).
func (o *Outcome) measure(ws []Workload, c *cluster) error {
	o.RTT, o.Violations, o.Cost = map[string]time.Duration{}, map[string]bool{}, map[string]float64{}
	o.points = map[string][]point{}
	for _, w := range ws {
		nodes := o.Nodes[w.Name]
		if len(nodes) == 0 {
			continue
		}
		demand, err := demandOf(w)
		if err != nil {
			return err
		}
		var sites []synthetic.Site
		for _, n := range nodes {
			sites = append(sites, c.nodeSite[n])
			price := resource.MustParse(zonePrices[zoneOf(c.nodeSite[n])])
			o.Cost[w.Name] += float64(w.EgressMbps) * price.AsApproximateFloat64()
		}
		var weighted, worst time.Duration
		for _, u := range demand {
			rtt := nearest(sites, u.site)
			weighted += time.Duration(u.share * float64(rtt))
			worst = max(worst, rtt)
			o.points[w.Name] = append(o.points[w.Name], point{rtt, u.share})
		}
		o.RTT[w.Name] = weighted
		if slo, ok := w.slo(); ok && worst > slo && c.feasible(demand, slo) {
			o.Violations[w.Name] = true
			o.SLOViolations++
		}
		o.TotalCost += o.Cost[w.Name]
	}
	return nil
}

// nearest is the p90 RTT from the users to the nearest of the sites.
func nearest(sites []synthetic.Site, users synthetic.Site) time.Duration {
	best := time.Duration(-1)
	for _, s := range sites {
		if rtt := synthetic.P90(synthetic.RTT(s, users)); best < 0 || rtt < best {
			best = rtt
		}
	}
	return best
}

// feasible says whether one site serves every population within the SLO.
func (c *cluster) feasible(demand []users, slo time.Duration) bool {
	for _, s := range append(slices.Clone(c.ens), c.cdn...) {
		ok := true
		for _, u := range demand {
			if synthetic.P90(synthetic.RTT(s, u.site)) > slo {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
