// Package evaluate measures placement quality without a cluster: it builds
// edge sites and user populations from a measured RTT matrix, lets the real
// kube-scheduler place pods with the shipped edgeplace profile (the real
// plugins inside the real framework) and, on the same nodes, with the stock
// default profile, and compares both with the optimum.
//
// Every place of the matrix is a user population (a Landmark); a share of
// the places also host an edge site of identical nodes. A pod serves one
// population (single pods) or several with weights (a workload of k
// replicas). RTT is judged on the full matrix (the truth); with Mask, a
// share of the site-to-population pairs is hidden from the scheduler, which
// then works from its own estimates.
package evaluate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Scenario is what to place.
type Scenario struct {
	// NodesPerSite identical nodes stand at each edge site.
	NodesPerSite int
	// SiteFraction of the places host an edge site (at least two do).
	SiteFraction float64
	// Pods single pods, each serving one random population, placed
	// independently on the empty cluster.
	Pods int
	// Replicas, when at least 2, adds Workloads workloads of that many
	// replicas, each serving LandmarksPerWorkload random populations with
	// random weights, placed one replica after the other.
	Replicas             int
	Workloads            int
	LandmarksPerWorkload int
	// SLO is the single pods' p90 bound (0: none).
	SLO time.Duration
	// Mask is the share of site-to-population pairs hidden from the
	// scheduler.
	Mask float64
	Seed uint64
	// Estimator, if set, replaces the estimator's default parameters for
	// the hidden pairs.
	Estimator *estimate.Params
	// Repeatable makes a run repeat itself exactly, however busy the
	// machine: ties between equally scored nodes fall the same way every
	// time (newPlacer says how, and how it differs from the shipped
	// profile).
	Repeatable bool
	// EgressMbps, when positive, gives each single pod that sustained
	// egress: the edgeplace profile then weighs bandwidth cost too, and
	// every profile's placements are costed.
	EgressMbps int64
	// Sites is optional metadata by place name: prices for the cost (a
	// site without one costs DefaultPrice) and locations for the plot.
	Sites        map[string]Site
	DefaultPrice float64
}

// Result compares the placements. Single-pod and replica figures are kept
// apart: they answer different questions.
type Result struct {
	Places int `json:"places"`
	Sites  int `json:"sites"`
	Nodes  int `json:"nodes"`
	Pods   int `json:"pods"`
	// Compared is how many pods both profiles placed; the RTT figures are
	// over those.
	Compared int `json:"compared"`
	// Infeasible is how many pods no node can serve within their SLO.
	Infeasible int         `json:"infeasible"`
	Edgeplace  Quality     `json:"edgeplace"`
	Stock      Quality     `json:"stock"`
	Optimal    Quality     `json:"optimal"`
	Replicas   *Replicas   `json:"replicas,omitempty"`
	Estimation *Estimation `json:"estimation,omitempty"`
	// sites and placements are the edge sites and where each compared
	// single pod went (matrix indices), for the plot.
	sites      []int
	placements []placement
}

// placement is one single pod's users and the site each profile chose, as
// matrix indices.
type placement struct{ users, edgeplace, stock, optimal int }

// Quality summarises the RTT the placed pods' users get.
type Quality struct {
	MeanRTTms float64 `json:"meanRTTms"`
	P90RTTms  float64 `json:"p90RTTms"`
	// SLOViolations counts pods placed beyond their SLO although some node
	// met it.
	SLOViolations int `json:"sloViolations"`
	// Unplaced counts pods the scheduler refused.
	Unplaced int `json:"unplaced"`
	// Within1msOfOptimal is the share of pods within 1 ms of the best node.
	Within1msOfOptimal float64 `json:"within1msOfOptimal"`
	// Cost is the monthly price of the placed pods' egress (Scenario
	// EgressMbps times each chosen site's price per Mbps); 0 without egress.
	Cost float64 `json:"cost"`
}

// Replicas compares workloads of k replicas by the demand-weighted RTT from
// each population to its nearest replica.
type Replicas struct {
	Workloads int     `json:"workloads"`
	K         int     `json:"k"`
	Edgeplace float64 `json:"edgeplaceMeanRTTms"`
	Stock     float64 `json:"stockMeanRTTms"`
	// Optimal is exact (exhaustive over sites) when Exact, otherwise a
	// Lagrangian lower bound.
	Optimal float64 `json:"optimalMeanRTTms"`
	Exact   bool    `json:"optimalExact"`
}

// Estimation is how close the scheduler's estimates of the masked pairs
// were to the truth.
type Estimation struct {
	Masked         int     `json:"masked"`
	Estimated      int     `json:"estimated"`
	MedianRelError float64 `json:"medianRelError"`
	// NearRelError is the median relative error over the masked pairs
	// among each population's 5 truly nearest sites (NearMasked of them):
	// the pairs that decide placement, where medianRelError is mostly
	// long-haul pairs.
	NearRelError float64 `json:"nearRelError"`
	NearMasked   int     `json:"nearMasked"`
	// NearestHit is the share of populations whose nearest site by the
	// scheduler's view (measured or estimated) is within 1 ms of their
	// truly nearest.
	NearestHit float64 `json:"nearestHit"`
}

// NearSites is how many of a population's nearest sites nearRelError
// looks at.
const NearSites = 5

// cluster is the scenario laid out: places, sites, nodes and the map.
type cluster struct {
	m        *Matrix
	places   []int // matrix indices of the places kept (all pairs known)
	sites    []int // the places that host nodes
	nodes    []*v1.Node
	siteOf   map[string]int // node -> place
	landmark func(place int) string
	netmap   *netmap.Map
	hidden   [][2]int // (site place, population place) pairs masked
}

const podCPU = "100m"

// rng is the scenario's random source: every draw of a seed (its sites,
// hidden pairs and pods) comes from it, in Run's order.
func (sc Scenario) rng() *rand.Rand {
	return rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x9e3779b97f4a7c15))
}

// Run evaluates the scenario on the matrix.
func Run(ctx context.Context, m *Matrix, sc Scenario) (*Result, error) {
	if sc.NodesPerSite < 1 {
		return nil, fmt.Errorf("nodes per site: invalid value %d: must be at least 1", sc.NodesPerSite)
	}
	if sc.SiteFraction <= 0 || sc.SiteFraction > 1 {
		return nil, fmt.Errorf("site fraction: invalid value %g: must be in (0, 1]", sc.SiteFraction)
	}
	if sc.Mask < 0 || sc.Mask >= 1 {
		return nil, fmt.Errorf("mask: invalid value %g: must be in [0, 1)", sc.Mask)
	}
	if sc.Estimator != nil {
		if err := sc.Estimator.Validate(); err != nil {
			return nil, err
		}
	}
	rng := sc.rng()
	c, err := layout(ctx, m, sc, rng)
	if err != nil {
		return nil, err
	}
	res := &Result{Places: len(c.places), Sites: len(c.sites), Nodes: len(c.nodes), Pods: sc.Pods, sites: c.sites}
	if sc.Mask > 0 {
		res.Estimation = c.estimationError()
	}

	// The schedulers' cache and metrics goroutines and their informers end
	// with ctx; close then waits for the informers and stops the events.
	ctx, cancel := context.WithCancel(ctx)
	var placers []*placer
	defer func() {
		cancel()
		for _, p := range placers {
			p.close()
		}
	}()
	edge, err := newPlacer(ctx, c.nodes, c.netmap, c.billing(sc), sc.Repeatable)
	if err != nil {
		return nil, fmt.Errorf("the edgeplace profile: %w", err)
	}
	placers = append(placers, edge)
	stock, err := newPlacer(ctx, c.nodes, nil, nil, sc.Repeatable)
	if err != nil {
		return nil, fmt.Errorf("the stock profile: %w", err)
	}
	placers = append(placers, stock)
	edge.factory.Start(ctx.Done())
	stock.factory.Start(ctx.Done())

	if err := c.singlePods(ctx, sc, rng, edge, stock, res); err != nil {
		return nil, err
	}
	if sc.Replicas >= 2 && sc.Workloads > 0 {
		r, err := c.replicas(ctx, sc, rng, edge, stock)
		if err != nil {
			return nil, err
		}
		res.Replicas = r
	}
	return res, nil
}

// layout keeps the places whose RTT to every other kept place is known,
// picks the sites, and fills the network map as probes would.
func layout(ctx context.Context, m *Matrix, sc Scenario, rng *rand.Rand) (*cluster, error) {
	places := completeCore(m)
	if len(places) < 2 {
		return nil, incompleteError(m)
	}
	c := &cluster{m: m, places: places, siteOf: map[string]int{}, netmap: netmap.New()}
	c.landmark = func(p int) string { return "users-" + dnsName(m.Places[p]) }
	nSites := max(2, int(math.Round(sc.SiteFraction*float64(len(places)))))
	shuffled := slices.Clone(places)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	c.sites = shuffled[:min(nSites, len(shuffled))]
	slices.Sort(c.sites)

	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("64"),
		v1.ResourceMemory: resource.MustParse("256Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	now := time.Now()
	// Each population and each site is in its own "city", so that the
	// scheduler knows which site is the population's own.
	for _, p := range places {
		c.netmap.SetLandmarkAt(c.landmark(p), v1alpha1.Location{City: dnsName(m.Places[p])})
	}
	for _, s := range c.sites {
		site := dnsName(m.Places[s])
		for i := range sc.NodesPerSite {
			n := &v1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", site, i), UID: types.UID(fmt.Sprintf("node-%s-%d", site, i)),
					Labels: map[string]string{v1alpha1.SiteLabel: site, topology.CityLabel: site, v1alpha1.BillingZoneLabel: site}},
				Status: v1.NodeStatus{Capacity: capacity, Allocatable: capacity,
					Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
			}
			c.nodes = append(c.nodes, n)
			c.siteOf[n.Name] = s
			c.netmap.SetNode(n.Name, n.Labels)
		}
		nn := &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "site-" + site},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site},
		}
		for _, p := range places {
			if sc.Mask > 0 && rng.Float64() < sc.Mask {
				c.hidden = append(c.hidden, [2]int{s, p})
				continue
			}
			rtt, _ := m.RTT(s, p)
			us := max(int64(rtt*1000), 1)
			nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: c.landmark(p), RTTP50Microseconds: us, RTTP90Microseconds: us,
				Samples: 30, ObservedTime: metav1.NewTime(now),
			})
		}
		c.netmap.SetNodeNetwork(nn)
	}
	snap := c.netmap.Flush()
	if sc.Mask > 0 {
		const ttl = time.Hour
		c.netmap.EnableEstimation(ttl)
		params := estimate.DefaultParams()
		if sc.Estimator != nil {
			params = *sc.Estimator
		}
		estimator, err := estimate.NewMapEstimatorWith(params)
		if err != nil {
			return nil, err
		}
		est := estimator.Estimate(ctx, snap, now, ttl)
		if est == nil {
			return nil, ctx.Err()
		}
		c.netmap.PublishEstimates(est)
		c.netmap.Flush()
	}
	return c, nil
}

// incompleteError says why no two places of m have every pair known: how
// many pairs are unknown, where most of them are, and what would help.
func incompleteError(m *Matrix) error {
	if len(m.Places) < 2 {
		return fmt.Errorf("the table has %d place (%s): evaluate needs at least 2", len(m.Places), strings.Join(m.Places, ""))
	}
	type gap struct {
		place   string
		missing int
	}
	var gaps []gap
	unknown, noSelf := 0, 0
	for i, p := range m.Places {
		n := 0
		for j := range m.Places {
			if _, ok := m.RTT(i, j); !ok {
				n++
				if i == j {
					noSelf++
				}
			}
		}
		unknown += n
		if n > 0 {
			gaps = append(gaps, gap{p, n})
		}
	}
	slices.SortFunc(gaps, func(a, b gap) int { return cmp.Or(b.missing-a.missing, strings.Compare(a.place, b.place)) })
	var worst []string
	for _, g := range gaps[:min(3, len(gaps))] {
		worst = append(worst, fmt.Sprintf("%s (%d)", g.place, g.missing))
	}
	msg := fmt.Sprintf("of %d places, no 2 have every pair between them known: %d of %d ordered pairs are unknown, most of them at %s",
		len(m.Places), unknown, len(m.Places)*len(m.Places), strings.Join(worst, ", "))
	if noSelf > 0 {
		msg += fmt.Sprintf("; %d places have no RTT to themselves and nothing measured from them to fill it with (--self-rtt sets one)", noSelf)
	}
	return errors.New(msg + "; pairs known in one direction are used both ways, so a place needs a value to or from every other")
}

// completeCore drops, one at a time, the place with the most unknown pairs
// until every pair left (each place to itself included) is known.
func completeCore(m *Matrix) []int {
	alive := make([]bool, len(m.Places))
	for i := range alive {
		alive[i] = true
	}
	for {
		worst, worstMissing := -1, 0
		for i := range m.Places {
			if !alive[i] {
				continue
			}
			missing := 0
			for j := range m.Places {
				if _, ok := m.RTT(i, j); alive[j] && !ok {
					missing++
				}
			}
			if missing > worstMissing {
				worst, worstMissing = i, missing
			}
		}
		if worst < 0 {
			break
		}
		alive[worst] = false
	}
	var out []int
	for i, a := range alive {
		if a {
			out = append(out, i)
		}
	}
	return out
}

// dnsName turns a place name into a valid object name part.
func dnsName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func (c *cluster) rtt(site, place int) float64 {
	v, _ := c.m.RTT(site, place)
	return v
}

// bestSite is the site with the lowest RTT to a population, and that RTT.
func (c *cluster) bestSite(place int) (float64, int) {
	return c.nearestSite(place, func(s, p int) (float64, bool) { return c.rtt(s, p), true })
}

// nearestSite is the site with the lowest known RTT to a population by
// rtt, and that RTT; -1 when rtt knows none.
func (c *cluster) nearestSite(place int, rtt func(site, place int) (float64, bool)) (float64, int) {
	best, site := math.Inf(1), -1
	for _, s := range c.sites {
		if r, ok := rtt(s, place); ok && r < best {
			best, site = r, s
		}
	}
	return best, site
}

// price is a site's monthly price per Mbps of egress.
func (c *cluster) price(sc Scenario, site int) float64 {
	if s, ok := sc.Sites[c.m.Places[site]]; ok && s.HasPrice {
		return s.Price
	}
	return sc.DefaultPrice
}

// billing is the BandwidthCost configuration the edgeplace profile runs
// with: one billing zone per site at its price, nothing committed; nil
// (the shipped configuration) when pods state no egress.
func (c *cluster) billing(sc Scenario) *config.BandwidthCostArgs {
	if sc.EgressMbps <= 0 {
		return nil
	}
	args := &config.BandwidthCostArgs{DefaultPricePerMbps: priceQuantity(sc.DefaultPrice)}
	for _, s := range c.sites {
		args.Zones = append(args.Zones, config.BillingZone{Name: dnsName(c.m.Places[s]), PricePerMbps: priceQuantity(c.price(sc, s))})
	}
	return args
}

// priceQuantity is a price as a quantity, to a thousandth.
func priceQuantity(v float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

func (c *cluster) estimationError() *Estimation {
	e := &Estimation{Masked: len(c.hidden)}
	view := c.netmap.Current().View(time.Now(), time.Hour)
	rowOf := map[int]int32{} // site -> its row
	for _, n := range c.nodes {
		if row, ok := view.Row(n.Name); ok {
			rowOf[c.siteOf[n.Name]] = row
		}
	}
	// seen is the scheduler's RTT of a pair, measured or estimated.
	seen := func(site, place int) (float64, bool) {
		row, ok := rowOf[site]
		if !ok {
			return 0, false
		}
		lm, ok := view.Landmark(c.landmark(place))
		if !ok {
			return 0, false
		}
		us, _, ok := view.Value(row, lm, netmap.P50, netmap.AnyEstimate)
		return float64(us) / 1000, ok
	}
	relError := func(site, place int) (float64, bool) {
		est, ok := seen(site, place)
		truth := c.rtt(site, place)
		if !ok || truth <= 0 {
			return 0, false
		}
		return math.Abs(est-truth) / truth, true
	}
	hidden := map[[2]int]bool{}
	var errs []float64
	for _, h := range c.hidden {
		hidden[h] = true
		if _, ok := seen(h[0], h[1]); ok {
			e.Estimated++
		}
		if x, ok := relError(h[0], h[1]); ok {
			errs = append(errs, x)
		}
	}
	e.MedianRelError = median(errs)

	var near []float64
	hits := 0
	for _, p := range c.places {
		bySite := slices.Clone(c.sites)
		slices.SortFunc(bySite, func(a, b int) int { return cmp.Compare(c.rtt(a, p), c.rtt(b, p)) })
		for _, s := range bySite[:min(NearSites, len(bySite))] {
			if !hidden[[2]int{s, p}] {
				continue
			}
			e.NearMasked++
			if x, ok := relError(s, p); ok {
				near = append(near, x)
			}
		}
		if _, chosen := c.nearestSite(p, seen); chosen >= 0 && c.rtt(chosen, p) <= c.rtt(bySite[0], p)+1 {
			hits++
		}
	}
	e.NearRelError = median(near)
	if len(c.places) > 0 {
		e.NearestHit = float64(hits) / float64(len(c.places))
	}
	return e
}

func (c *cluster) pod(name string, annotations map[string]string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("pod-" + name), Annotations: annotations},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "app", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(podCPU)},
		}}}},
	}
}

// singlePods places each pod on the empty cluster with both profiles. RTT
// figures compare the pods both profiles placed (with an SLO, edgeplace
// refuses pods no node can serve in time; stock places them anyway), so the
// three rows speak of the same pods.
func (c *cluster) singlePods(ctx context.Context, sc Scenario, rng *rand.Rand, edge, stock *placer, res *Result) error {
	slo := float64(sc.SLO) / float64(time.Millisecond)
	var edgeRTT, stockRTT, optRTT []float64
	for i := range sc.Pods {
		users := c.places[rng.IntN(len(c.places))]
		annotations := map[string]string{v1alpha1.DemandAnnotation: c.landmark(users)}
		if sc.EgressMbps > 0 {
			annotations[v1alpha1.EgressAnnotation] = fmt.Sprintf("%dM", sc.EgressMbps)
		}
		if sc.SLO > 0 {
			annotations[v1alpha1.MaxRTTAnnotation] = sc.SLO.String()
			annotations[v1alpha1.EstimatesAnnotation] = string(intent.EstimatesCoordinates)
		}
		pod := c.pod(fmt.Sprintf("pod-%d", i), annotations)
		opt, optSite := c.bestSite(users)
		feasible := sc.SLO == 0 || opt <= slo
		if !feasible {
			res.Infeasible++
		}
		got, chosen := [2]float64{}, [2]int{}
		placed := true
		for k, side := range []struct {
			p *placer
			q *Quality
		}{{edge, &res.Edgeplace}, {stock, &res.Stock}} {
			node, err := side.p.place(ctx, pod)
			if err != nil {
				return fmt.Errorf("pod %d: %w", i, err)
			}
			if node == "" {
				side.q.Unplaced++
				placed = false
				continue
			}
			chosen[k] = c.siteOf[node]
			got[k] = c.rtt(chosen[k], users)
			if sc.SLO > 0 && feasible && got[k] > slo {
				side.q.SLOViolations++
			}
		}
		if placed {
			edgeRTT, stockRTT, optRTT = append(edgeRTT, got[0]), append(stockRTT, got[1]), append(optRTT, opt)
			res.placements = append(res.placements, placement{users: users, edgeplace: chosen[0], stock: chosen[1], optimal: optSite})
			egress := float64(sc.EgressMbps)
			res.Edgeplace.Cost += egress * c.price(sc, chosen[0])
			res.Stock.Cost += egress * c.price(sc, chosen[1])
			res.Optimal.Cost += egress * c.price(sc, optSite)
		}
	}
	fill := func(q *Quality, rtts []float64) {
		q.MeanRTTms, q.P90RTTms = mean(rtts), quantile(rtts, 0.9)
		near := 0
		for i, v := range rtts {
			if v-optRTT[i] <= 1 {
				near++
			}
		}
		if len(rtts) > 0 {
			q.Within1msOfOptimal = float64(near) / float64(len(rtts))
		}
	}
	fill(&res.Edgeplace, edgeRTT)
	fill(&res.Stock, stockRTT)
	fill(&res.Optimal, optRTT)
	res.Compared = len(optRTT)
	return nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)]
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }
