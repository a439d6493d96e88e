package bench

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	epconfig "github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

var large = flag.Bool("large", false, "also run the 50,000 and 100,000-node cases")

// clusterSizes are the node counts every size-swept benchmark runs at;
// -short keeps only the smallest, to check that the benchmarks still run.
func clusterSizes() []int {
	if testing.Short() {
		return []int{1000}
	}
	if *large {
		return []int{1000, 5000, 10000, 50000, 100000}
	}
	return []int{1000, 5000, 10000}
}

// Labels and taint of the benchmark cluster.
const (
	nodeTypeLabel = "edgeplace.io/node-type"
	provinceLabel = "edgeplace.io/province"
	carrierLabel  = "edgeplace.io/carrier"
	edgeTaintKey  = "edgeplace.io/edge"
)

// edgeCluster is an ENS/CDN-like cluster. Its nodes are spread over the 93
// operator edge sites (31 provinces x 3 carriers) and 93 CDN points of
// presence in the same cities, or over more sites when asked (several
// sites per city and carrier). Each node is measured to the first k site
// populations with RTT from the synthetic model plus up to 0.5ms of
// per-node noise; 5% of the measurements are stale. Every node carries one
// NoSchedule taint, which the benchmark pod tolerates, and a node-type label,
// which its node affinity selects, so that the in-tree yardsticks do their
// full work.
type edgeCluster struct {
	nodes     []*v1.Node
	infos     []fwk.NodeInfo
	byName    map[string]fwk.NodeInfo
	netmap    *netmap.Map
	landmarks []string
	users     []synthetic.Site        // the landmarks' sites
	objects   []*v1alpha1.NodeNetwork // as published
}

type clusterOptions struct {
	nodes, landmarks int
	// sites is the number of distinct sites (default: the 186 synthetic ones).
	sites int
	// perSite publishes one site-scoped NodeNetwork per site instead of one
	// per node.
	perSite bool
	// noMap leaves the network map empty (for benchmarks of the map itself).
	noMap bool
}

func newEdgeCluster(o clusterOptions) *edgeCluster {
	rng := rand.New(rand.NewPCG(uint64(o.nodes), uint64(o.landmarks)))
	ens := synthetic.Sites()
	bases := append(append([]synthetic.Site{}, ens...), synthetic.CDNSites()...)
	if o.sites == 0 {
		o.sites = len(bases)
	}
	users := ens[:min(o.landmarks, len(ens))]
	c := &edgeCluster{netmap: netmap.New(), byName: make(map[string]fwk.NodeInfo, o.nodes)}
	c.users = users
	for _, u := range users {
		c.landmarks = append(c.landmarks, u.Population())
	}
	// The model RTT between every base site and every landmark, computed once.
	model := make([][]time.Duration, len(bases))
	for i, s := range bases {
		model[i] = make([]time.Duration, len(users))
		for j, u := range users {
			model[i][j] = synthetic.RTT(s, u)
		}
	}
	now := time.Now()
	published := make([]bool, o.sites)
	for i := range o.nodes {
		site := i % o.sites
		base := site % len(bases)
		siteID := bases[base].ID()
		if o.sites > len(bases) {
			siteID = fmt.Sprintf("%s-%d", siteID, site/len(bases))
		}
		name := fmt.Sprintf("%s-%d", siteID, i)
		node := benchNode(name, siteID, bases[base])
		ni := framework.NewNodeInfo()
		ni.SetNode(node)
		c.nodes = append(c.nodes, node)
		c.infos = append(c.infos, ni)
		c.byName[name] = ni

		object, spec := name, v1alpha1.NodeNetworkSpec{}
		if o.perSite {
			if published[site] {
				continue
			}
			published[site] = true
			object, spec = "site."+siteID, v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: siteID}
		}
		observed := now.Add(-time.Minute)
		if rng.IntN(20) == 0 {
			observed = now.Add(-time.Hour)
		}
		nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: object}, Spec: spec}
		nn.Status.EgressCapacityMbps, nn.Status.BillingZone = &egressCapacityMbps, billingZone(bases[base])
		nn.Status.Landmarks = make([]v1alpha1.LandmarkRTT, len(users))
		for j, u := range users {
			p50 := model[base][j] + time.Duration(rng.IntN(500))*time.Microsecond
			nn.Status.Landmarks[j] = v1alpha1.LandmarkRTT{
				Landmark: u.Population(), RTTP50Microseconds: p50.Microseconds(),
				RTTP90Microseconds: synthetic.P90(p50).Microseconds(), Samples: 30, ObservedTime: metav1.NewTime(observed),
			}
		}
		c.objects = append(c.objects, nn)
	}
	if !o.noMap {
		c.fill(c.netmap)
		c.netmap.Flush()
	}
	return c
}

// fill records the whole cluster in a map, as its informers would.
func (c *edgeCluster) fill(m *netmap.Map) {
	for _, lm := range c.users {
		m.SetLandmarkAt(lm.Population(), v1alpha1.Location{Province: lm.Province.Name, Carrier: lm.Carrier})
	}
	for _, n := range c.nodes {
		m.SetNode(n.Name, n.Labels)
	}
	for _, nn := range c.objects {
		m.SetNodeNetwork(nn)
	}
	m.SetState(netmap.Ready)
}

func benchNode(name, siteID string, site synthetic.Site) *v1.Node {
	kind := site.Kind
	if kind == "" {
		kind = synthetic.ENS
	}
	allocatable := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("32"),
		v1.ResourceMemory: resource.MustParse("128Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name), Labels: map[string]string{
			v1alpha1.SiteLabel:              siteID,
			nodeTypeLabel:                   kind,
			provinceLabel:                   site.Province.Name,
			carrierLabel:                    site.Carrier,
			"kubernetes.io/hostname":        name,
			"topology.kubernetes.io/region": siteID,
		}},
		Spec: v1.NodeSpec{Taints: []v1.Taint{{Key: edgeTaintKey, Value: "true", Effect: v1.TaintEffectNoSchedule}}},
		Status: v1.NodeStatus{Capacity: allocatable, Allocatable: allocatable,
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	}
}

// demand is the benchmark pod's demand: two landmarks, 60/40 shifted by
// variant, so that pods of different variants have different intents.
func (c *edgeCluster) demand(variant int) string {
	return fmt.Sprintf("%s:%d,%s:%d", c.landmarks[0], 60+variant, c.landmarks[len(c.landmarks)-1], 40-variant)
}

// pod is the benchmark pod: the given intent, 500m CPU and 1Gi, a toleration
// of the edge taint, a required node affinity every node meets and a
// preferred one some do.
func (c *edgeCluster) pod(name, slo string) *v1.Pod { return c.podVariant(name, slo, 0) }

// pods returns n pods whose intents differ only in their weights: cycling
// through them defeats NetworkLatency's per-burst memo, so that every cycle
// pays the full PreFilter and PreScore.
func (c *edgeCluster) pods(name, slo string, n int) []*v1.Pod {
	out := make([]*v1.Pod, n)
	for i := range out {
		out[i] = c.podVariant(fmt.Sprintf("%s-%d", name, i), slo, i)
	}
	return out
}

func (c *edgeCluster) podVariant(name, slo string, variant int) *v1.Pod {
	// The forbidden carrier gives Locality a constraint to check on every
	// node; the demand gives it a carrier preference to score.
	annotations := map[string]string{v1alpha1.DemandAnnotation: c.demand(variant), v1alpha1.ForbiddenCarriersAnnotation: "cmcc"}
	if slo != "" {
		annotations[v1alpha1.MaxRTTAnnotation] = slo
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-" + name), Annotations: annotations},
		Spec: v1.PodSpec{
			SchedulerName: "edgeplace-scheduler",
			Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("1Gi")},
			}}},
			Tolerations: []v1.Toleration{{Key: edgeTaintKey, Operator: v1.TolerationOpEqual, Value: "true", Effect: v1.TaintEffectNoSchedule}},
			Affinity: &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
					MatchExpressions: []v1.NodeSelectorRequirement{{Key: nodeTypeLabel, Operator: v1.NodeSelectorOpIn, Values: []string{synthetic.ENS, synthetic.CDN}}},
				}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{Weight: 10, Preference: v1.NodeSelectorTerm{
					MatchExpressions: []v1.NodeSelectorRequirement{{Key: provinceLabel, Operator: v1.NodeSelectorOpIn, Values: []string{"zhejiang", "jiangsu", "shanghai"}}},
				}}},
			}},
		},
	}
}

const fiveMinutes = 5 * time.Minute

// egressCapacityMbps is every benchmark node's egress capacity.
var egressCapacityMbps int64 = 10_000

// billingZone is the bandwidth billing zone of a site: each site is its own.
func billingZone(s synthetic.Site) string {
	return s.ID()
}

// billing prices every billing zone of the cluster, carriers at different
// prices, each with a commitment, so that BandwidthCost's marginal cost
// differs between zones.
func (c *edgeCluster) billing() *epconfig.BandwidthCostArgs {
	args := &epconfig.BandwidthCostArgs{DefaultPricePerMbps: resource.MustParse("30")}
	price := map[string]string{"telecom": "20", "unicom": "18", "cmcc": "15"}
	for _, s := range append(synthetic.Sites(), synthetic.CDNSites()...) {
		p, ok := price[s.Carrier]
		if !ok {
			p = "25"
		}
		args.Zones = append(args.Zones, epconfig.BillingZone{Name: billingZone(s), PricePerMbps: resource.MustParse(p), CommittedMbps: 500})
	}
	return args
}

func timeNow() time.Time { return time.Now() }
