package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// Billing zones and their monthly price per Mbps of 95th-percentile peak:
// each kind of site bills by carrier, CDN points of presence less than
// operator edge sites. The figures are illustrative.
var zonePrices = map[string]string{
	"ens-telecom": "9", "ens-unicom": "8", "ens-cmcc": "7",
	"cdn-telecom": "4", "cdn-unicom": "3", "cdn-cmcc": "2",
}

func zoneOf(s synthetic.Site) string {
	kind := synthetic.ENS
	if s.Kind == synthetic.CDN {
		kind = synthetic.CDN
	}
	return kind + "-" + s.Carrier
}

// cluster is the demo's topology.
type cluster struct {
	populations []synthetic.Site // one per province x carrier: the landmarks
	ens, cdn    []synthetic.Site
	perSite     int
	nodeSite    map[string]synthetic.Site
}

func newTopology(opts Options) *cluster {
	keep := func(s synthetic.Site) bool { return true }
	if !opts.AllProvinces {
		wanted := provinces(opts.Workloads)
		keep = func(s synthetic.Site) bool { return slices.Contains(wanted, s.Province.Name) }
	}
	c := &cluster{perSite: opts.NodesPerSite, nodeSite: map[string]synthetic.Site{}}
	for _, s := range synthetic.Sites() {
		if keep(s) {
			c.populations = append(c.populations, s)
			c.ens = append(c.ens, s)
			for i := range opts.NodesPerSite {
				c.nodeSite[nodeName(s, i)] = s
			}
		}
	}
	for _, s := range synthetic.CDNSites() {
		if keep(s) {
			c.cdn = append(c.cdn, s)
			c.nodeSite[nodeName(s, 0)] = s
		}
	}
	return c
}

func nodeName(s synthetic.Site, i int) string { return fmt.Sprintf("edge-%s-%d", s.ID(), i) }

func (c *cluster) create(ctx context.Context, kube kubernetes.Interface, edge edgeclient.Interface) error {
	for _, s := range c.populations {
		if _, err := edge.EdgeplaceV1alpha1().Landmarks().Create(ctx, synthetic.Landmark(s), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, s := range append(slices.Clone(c.ens), c.cdn...) {
		nodes := c.perSite
		egress := "1000"
		if s.Kind == synthetic.CDN {
			nodes, egress = 1, "4000"
		}
		for i := range nodes {
			if err := createNode(ctx, kube, s, nodeName(s, i), egress); err != nil {
				return err
			}
		}
		// One object per site: every node of the site shares its row.
		nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "site-" + s.ID()},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: s.ID()},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		nn.Status.Landmarks = synthetic.Measurements(s, c.populations, now)
		if _, err := edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(ctx, nn, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func createNode(ctx context.Context, kube kubernetes.Interface, s synthetic.Site, name, egressMbps string) error {
	kind := synthetic.ENS
	if s.Kind == synthetic.CDN {
		kind = synthetic.CDN
	}
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		v1alpha1.SiteLabel:        s.ID(),
		topology.ProvinceLabel:    s.Province.Name,
		topology.CityLabel:        s.Province.City,
		topology.CarrierLabel:     s.Carrier,
		topology.NodeTypeLabel:    kind,
		v1alpha1.BillingZoneLabel: zoneOf(s),
		"kubernetes.io/hostname":  name,
	}}}
	created, err := kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:          resource.MustParse("16"),
		v1.ResourceMemory:       resource.MustParse("64Gi"),
		v1.ResourcePods:         resource.MustParse("110"),
		v1alpha1.EgressResource: resource.MustParse(egressMbps),
	}
	created.Status = v1.NodeStatus{Capacity: capacity, Allocatable: capacity,
		Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}
	_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}
