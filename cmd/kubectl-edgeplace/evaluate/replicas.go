package evaluate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
)

// exhaustiveLimit bounds the site subsets the exact optimum enumerates.
const exhaustiveLimit = 2_000_000

// replicas places each workload's replicas one after the other with both
// profiles; each placed replica is bound in that profile's cache, so the
// next decision sees it.
func (c *cluster) replicas(ctx context.Context, sc Scenario, rng *rand.Rand, edge, stock *placer) (*Replicas, error) {
	out := &Replicas{Workloads: sc.Workloads, K: sc.Replicas, Exact: true}
	nLandmarks := min(max(sc.LandmarksPerWorkload, 2), len(c.places), 64)
	for w := range sc.Workloads {
		perm := rng.Perm(len(c.places))[:nLandmarks]
		var users []int
		var weights []int64
		var parts []string
		for _, i := range perm {
			weight := int64(1 + rng.IntN(10))
			users = append(users, c.places[i])
			weights = append(weights, weight)
			parts = append(parts, fmt.Sprintf("%s:%d", c.landmark(c.places[i]), weight))
		}
		replicas := int32(sc.Replicas)
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("workload-%d", w), Namespace: "default", UID: types.UID(fmt.Sprintf("rs-%d", w))},
			Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"app": fmt.Sprintf("workload-%d", w)}}},
		}
		// Both schedulers read the workload through their informers: the
		// edgeplace plugin for the replica count, the stock default
		// spreading for the selector.
		for _, p := range []*placer{edge, stock} {
			if err := p.addReplicaSet(ctx, rs); err != nil {
				return nil, fmt.Errorf("workload %d: %w", w, err)
			}
		}
		controller := true
		annotations := map[string]string{v1alpha1.DemandAnnotation: strings.Join(parts, ",")}
		for _, side := range []struct {
			p     *placer
			total *float64
		}{{edge, &out.Edgeplace}, {stock, &out.Stock}} {
			var sites []int
			for r := range sc.Replicas {
				pod := c.pod(fmt.Sprintf("workload-%d-%d", w, r), annotations)
				pod.UID = types.UID(fmt.Sprintf("%s-%s-%d", side.p.name, pod.Name, r))
				pod.Labels = rs.Spec.Selector.MatchLabels
				pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller}}
				node, err := side.p.place(ctx, pod)
				if err != nil {
					return nil, fmt.Errorf("workload %d replica %d: %w", w, r, err)
				}
				if node == "" {
					return nil, fmt.Errorf("workload %d replica %d: unschedulable with no SLO", w, r)
				}
				if err := side.p.bind(pod, node); err != nil {
					return nil, err
				}
				sites = append(sites, c.siteOf[node])
			}
			*side.total += c.coverageRTT(sites, users, weights)
		}
		opt, exact := c.optimalCoverage(users, weights, sc.Replicas)
		out.Optimal += opt
		out.Exact = out.Exact && exact
	}
	n := float64(sc.Workloads)
	out.Edgeplace, out.Stock, out.Optimal = out.Edgeplace/n, out.Stock/n, out.Optimal/n
	return out, nil
}

// coverageRTT is the demand-weighted mean RTT from each population to its
// nearest replica's site.
func (c *cluster) coverageRTT(sites, users []int, weights []int64) float64 {
	var sum, total float64
	for l, u := range users {
		best := math.Inf(1)
		for _, s := range sites {
			best = min(best, c.rtt(s, u))
		}
		sum += float64(weights[l]) * best
		total += float64(weights[l])
	}
	return sum / total
}

// optimalCoverage is the best k-site coverage: exhaustive when the number
// of site subsets allows, otherwise a Lagrangian lower bound.
func (c *cluster) optimalCoverage(users []int, weights []int64, k int) (float64, bool) {
	k = min(k, len(c.sites))
	cost := make([][]float64, len(c.sites))
	for i, s := range c.sites {
		cost[i] = make([]float64, len(users))
		for l, u := range users {
			cost[i][l] = c.rtt(s, u)
		}
	}
	var total float64
	for _, w := range weights {
		total += float64(w)
	}
	if binomial(len(c.sites), k) <= exhaustiveLimit {
		return exhaustive(cost, weights, k) / total, true
	}
	return lagrangianBound(cost, weights, k) / total, false
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := range k {
		r = r * float64(n-i) / float64(i+1)
	}
	return r
}

// exhaustive returns the least weighted cost over every k-subset of sites.
func exhaustive(cost [][]float64, weights []int64, k int) float64 {
	best := math.Inf(1)
	nearest := make([][]float64, k+1) // per depth: each landmark's nearest so far
	nearest[0] = make([]float64, len(weights))
	for l := range nearest[0] {
		nearest[0][l] = math.Inf(1)
	}
	var walk func(depth, from int)
	walk = func(depth, from int) {
		if depth == k {
			var sum float64
			for l, d := range nearest[k] {
				sum += float64(weights[l]) * d
			}
			best = min(best, sum)
			return
		}
		if nearest[depth+1] == nil {
			nearest[depth+1] = make([]float64, len(weights))
		}
		for s := from; s <= len(cost)-(k-depth); s++ {
			for l := range weights {
				nearest[depth+1][l] = min(nearest[depth][l], cost[s][l])
			}
			walk(depth+1, s+1)
		}
	}
	walk(0, 0)
	return best
}

// lagrangianBound relaxes "each landmark is served once" with multipliers
// and maximises the resulting lower bound by subgradient ascent; the upper
// bound that steers the step comes from the coverage solver.
func lagrangianBound(cost [][]float64, weights []int64, k int) float64 {
	p := coverage.Problem{Weights: weights, Cost: make([][]int32, len(cost))}
	for i := range cost {
		p.Cost[i] = make([]int32, len(weights))
		for l := range weights {
			p.Cost[i][l] = int32(math.Round(cost[i][l] * 1000))
		}
	}
	plan := coverage.Solve(p, k)
	upper := float64(plan.Total) / 1000

	lambda := make([]float64, len(weights))
	for l := range weights {
		best := math.Inf(1)
		for i := range cost {
			best = min(best, cost[i][l])
		}
		lambda[l] = float64(weights[l]) * best
	}
	bestBound, theta, stall := math.Inf(-1), 2.0, 0
	rho := make([]float64, len(cost))
	grad := make([]float64, len(weights))
	for range 1000 {
		for i := range cost {
			rho[i] = 0
			for l, w := range weights {
				rho[i] += min(0, float64(w)*cost[i][l]-lambda[l])
			}
		}
		order := make([]int, len(cost))
		for i := range order {
			order[i] = i
		}
		// The k sites with the most negative reduced cost open.
		for a := 0; a < k; a++ {
			for b := a + 1; b < len(order); b++ {
				if rho[order[b]] < rho[order[a]] {
					order[a], order[b] = order[b], order[a]
				}
			}
		}
		bound := 0.0
		for _, v := range lambda {
			bound += v
		}
		for _, i := range order[:k] {
			bound += rho[i]
		}
		if bound > bestBound+1e-9 {
			bestBound, stall = bound, 0
		} else if stall++; stall >= 30 {
			theta, stall = theta/2, 0
		}
		var norm float64
		for l, w := range weights {
			served := 0.0
			for _, i := range order[:k] {
				if float64(w)*cost[i][l]-lambda[l] < 0 {
					served++
				}
			}
			grad[l] = 1 - served
			norm += grad[l] * grad[l]
		}
		if norm == 0 || theta < 1e-6 {
			break
		}
		step := theta * (upper - bound) / norm
		for l := range lambda {
			lambda[l] += step * grad[l]
		}
	}
	return min(bestBound, upper)
}
