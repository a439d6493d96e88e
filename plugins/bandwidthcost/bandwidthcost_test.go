package bandwidthcost

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/shortlist"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
)

type handle struct{ fwk.Handle }

func (handle) SnapshotSharedLister() fwk.SharedLister                 { return nil }
func (handle) KubeConfig() *rest.Config                               { return nil }
func (handle) SharedInformerFactory() informers.SharedInformerFactory { return nil }

func pod(name string, annotations map[string]string, egressRequest int64) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), Annotations: annotations},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c"}}}}
	if egressRequest > 0 {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1alpha1.EgressResource: *resource.NewQuantity(egressRequest, resource.DecimalSI)}
	}
	return p
}

// nodeInfo is a node in a zone, with the given pods placed on it.
func nodeInfo(name, zone string, allocatableMbps int64, pods ...*v1.Pod) fwk.NodeInfo {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if zone != "" {
		n.Labels[BillingZoneLabel] = zone
	}
	if allocatableMbps > 0 {
		n.Status.Allocatable = v1.ResourceList{v1alpha1.EgressResource: *resource.NewQuantity(allocatableMbps, resource.DecimalSI)}
	}
	ni := framework.NewNodeInfo(pods...)
	ni.SetNode(n)
	return ni
}

// plugin prices zone "cheap" at 1 per Mbps with 1000 committed and "dear"
// at 10; node "from-map" has a 500 Mbps capacity in its NodeNetwork.
func plugin(t *testing.T) *BandwidthCost {
	t.Helper()
	m := netmap.New()
	capacity := int64(500)
	m.SetNode("from-map", nil)
	m.SetNodeNetwork(&v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "from-map"},
		Status: v1alpha1.NodeNetworkStatus{EgressCapacityMbps: &capacity, BillingZone: "dear"}})
	m.Flush()
	pl, err := New(context.Background(), &config.BandwidthCostArgs{
		Zones: []config.BillingZone{
			{Name: "cheap", PricePerMbps: resource.MustParse("1"), CommittedMbps: 1000},
			{Name: "dear", PricePerMbps: resource.MustParse("10")},
		},
		DefaultPricePerMbps: resource.MustParse("5"),
	}, handle{}, feed.Fixed(m))
	require.NoError(t, err)
	return pl.(*BandwidthCost)
}

func filter(t *testing.T, pl *BandwidthCost, p *v1.Pod, ni fwk.NodeInfo) *fwk.Status {
	t.Helper()
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(context.Background(), cs, p, nil)
	require.True(t, st.IsSuccess(), st.Message())
	return pl.Filter(context.Background(), cs, p, ni)
}

func TestCapacity(t *testing.T) {
	pl := plugin(t)
	egress := func(v string) map[string]string { return map[string]string{v1alpha1.EgressAnnotation: v} }
	placed := []*v1.Pod{pod("a", egress("300M"), 0), pod("b", nil, 150)}

	// Allocatable 500; 450 placed (an annotation and a request).
	assert.True(t, filter(t, pl, pod("p", egress("50M"), 0), nodeInfo("n", "", 500, placed...)).IsSuccess())
	st := filter(t, pl, pod("p", egress("51M"), 0), nodeInfo("n", "", 500, placed...))
	assert.Equal(t, ReasonEgress, st.Message())
	// Capacity from the NodeNetwork when the node advertises none.
	st = filter(t, pl, pod("p", egress("100M"), 0), nodeInfo("from-map", "", 0, placed...))
	assert.Equal(t, ReasonEgress, st.Message())
	// No capacity known: nothing to enforce.
	assert.True(t, filter(t, pl, pod("p", egress("10G"), 0), nodeInfo("unknown", "", 0, placed...)).IsSuccess())
	// A request of the extended resource is NodeResourcesFit's to check.
	assert.True(t, filter(t, pl, pod("p", nil, 400), nodeInfo("n", "", 500, placed...)).IsSuccess())
}

func TestCostCeilingAndScore(t *testing.T) {
	pl := plugin(t)
	ctx := context.Background()
	p := pod("p", map[string]string{v1alpha1.EgressAnnotation: "200M", v1alpha1.MaxCostAnnotation: "100"}, 0)
	cheap, dear := nodeInfo("c", "cheap", 0), nodeInfo("d", "dear", 0)

	cs := framework.NewCycleState()
	_, st := pl.PreFilter(ctx, cs, p, nil)
	require.True(t, st.IsSuccess())
	assert.True(t, pl.Filter(ctx, cs, p, cheap).IsSuccess(), "inside the committed 1000 Mbps: free")
	assert.Equal(t, ReasonCost, pl.Filter(ctx, cs, p, dear).Message(), "200 Mbps x 10 = 2000 > 100")

	require.True(t, pl.PreScore(ctx, cs, p, nil).IsSuccess())
	scores := fwk.NodeScoreList{{Name: "c"}, {Name: "d"}, {Name: "o"}}
	for i, ni := range []fwk.NodeInfo{cheap, dear, nodeInfo("o", "other", 0)} {
		scores[i].Score, _ = pl.Score(ctx, cs, p, ni)
	}
	assert.Equal(t, []int64{0, 2_000_000, 1_000_000}, []int64{scores[0].Score, scores[1].Score, scores[2].Score})
	require.True(t, pl.NormalizeScore(ctx, cs, p, scores).IsSuccess())
	assert.Equal(t, []int64{100, 0, 50}, []int64{scores[0].Score, scores[1].Score, scores[2].Score})
}

func TestReserveFillsTheZone(t *testing.T) {
	pl := plugin(t)
	ctx := context.Background()
	big := pod("big", map[string]string{v1alpha1.EgressAnnotation: "900M"}, 0)
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(ctx, cs, big, nil)
	require.True(t, st.IsSuccess())
	pl.Unreserve(ctx, cs, big, "c") // without Reserve: nothing happens
	require.True(t, pl.Reserve(ctx, cs, big, "c").IsSuccess())

	// The zone of node "c" is unknown to the plugin without a snapshot: it
	// reads the zone from the NodeNetwork (none), so "" is charged.
	assert.EqualValues(t, 900, pl.ledger.Used(""))
	pl.Unreserve(ctx, cs, big, "c")
	pl.Unreserve(ctx, cs, big, "c")
	assert.EqualValues(t, 0, pl.ledger.Used(""))

	pl.recordPod(func() *v1.Pod { p := big.DeepCopy(); p.Spec.NodeName = "from-map"; return p }())
	assert.EqualValues(t, 900, pl.ledger.Used("dear"), "a bound pod counts in its node's NodeNetwork zone")
}

func TestSign(t *testing.T) {
	pl := plugin(t)
	_, st := pl.SignPod(context.Background(), pod("p", map[string]string{v1alpha1.EgressAnnotation: "1G"}, 0))
	assert.Equal(t, fwk.Unschedulable, st.Code())
	_, st = pl.SignPod(context.Background(), pod("q", nil, 0))
	assert.True(t, st.IsSuccess())
}

// A node on NetworkLatency's shortlist gets the answers it gets without
// one: PreFilter's per-slot facts are the map's.
func TestShortlistedNodesGetTheSameAnswers(t *testing.T) {
	pl := plugin(t)
	ctx := context.Background()
	snap := pl.netmap.Current()
	ref, ok := snap.View(timeZero, 0).Node("from-map")
	require.True(t, ok)
	b := shortlist.NewBuilder(1)
	b.Add("from-map", shortlist.Entry{Row: ref.Row, Location: ref.Location, RTT: 1000})
	list := b.Build(snap)

	placed := pod("a", map[string]string{v1alpha1.EgressAnnotation: "450M"}, 0)
	for _, mbps := range []string{"40M", "60M"} {
		p := pod("p", map[string]string{v1alpha1.EgressAnnotation: mbps}, 0)
		var answers [2]string
		var scores [2]int64
		for i, listed := range []bool{false, true} {
			cs := framework.NewCycleState()
			if listed {
				shortlist.Write(cs, list)
			}
			_, st := pl.PreFilter(ctx, cs, p, nil)
			require.True(t, st.IsSuccess())
			ni := nodeInfo("from-map", "", 0, placed)
			answers[i] = pl.Filter(ctx, cs, p, ni).Message()
			scores[i], _ = pl.Score(ctx, cs, p, ni)
		}
		assert.Equal(t, answers[0], answers[1], "egress %s", mbps)
		assert.Equal(t, scores[0], scores[1], "egress %s", mbps)
		assert.NotZero(t, scores[0], "the map's zone (dear) prices it")
	}
}
