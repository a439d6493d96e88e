package locality

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
)

func node(name string, labels map[string]string) fwk.NodeInfo {
	ni := framework.NewNodeInfo()
	ni.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	return ni
}

var nodes = []fwk.NodeInfo{
	node("hz-telecom", map[string]string{topology.RegionLabel: "cn-hangzhou-telecom"}),
	node("hz-unicom", map[string]string{topology.RegionLabel: "cn-hangzhou-unicom"}),
	node("sh-cmcc-cdn", map[string]string{topology.SiteLabel: "cn-shanghai-cmcc", topology.NodeTypeLabel: "cdn"}),
	node("wh-bgp", map[string]string{topology.SiteLabel: "cn-wuhan-multiCarrier"}),
	node("urumqi-telecom", map[string]string{topology.CarrierLabel: "telecom", topology.ProvinceLabel: "xinjiang"}),
	node("unlabelled", nil),
}

// plugin returns Locality over a map that knows half of the nodes: the
// others are judged from their labels, as nodes the map has not seen yet.
// handle is what Locality's New asks of the framework's: no kubeconfig, no
// informers.
type handle struct{ fwk.Handle }

func (handle) KubeConfig() *rest.Config                               { return nil }
func (handle) SharedInformerFactory() informers.SharedInformerFactory { return nil }

func plugin() *Locality {
	m := netmap.New()
	for i, ni := range nodes {
		if i%2 == 0 {
			m.SetNode(ni.Node().Name, ni.Node().Labels)
		}
	}
	m.SetLandmarkAt("zhejiang-telecom", v1alpha1.Location{Province: "zhejiang", Carrier: "telecom"})
	m.SetLandmarkAt("jiangsu-unicom", v1alpha1.Location{Province: "jiangsu", Carrier: "unicom"})
	m.SetLandmark("somewhere")
	m.Flush()
	pl, err := New(context.Background(), nil, handle{}, feed.Fixed(m))
	if err != nil {
		panic(err) // a fixed map has nothing to fail on
	}
	return pl.(*Locality)
}

// run returns each node's Filter reason ("" if it passes) and score.
func run(t *testing.T, pl *Locality, annotations map[string]string) (map[string]string, map[string]int64, *fwk.Status) {
	t.Helper()
	ctx := context.Background()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: annotations}}
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(ctx, cs, pod, nodes)
	if !st.IsSuccess() && !st.IsSkip() {
		return nil, nil, st
	}
	reasons := map[string]string{}
	for _, ni := range nodes {
		if st.IsSkip() {
			reasons[ni.Node().Name] = ""
			continue
		}
		reasons[ni.Node().Name] = pl.Filter(ctx, cs, pod, ni).Message()
	}
	scores := map[string]int64{}
	if pl.PreScore(ctx, cs, pod, nodes).IsSkip() {
		return reasons, nil, nil
	}
	for _, ni := range nodes {
		s, st := pl.Score(ctx, cs, pod, ni)
		require.True(t, st.IsSuccess())
		scores[ni.Node().Name] = s
	}
	return reasons, scores, nil
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		rejected    map[string]string // node -> reason; the rest pass
	}{
		{
			name:        "allowed carriers; multi-carrier serves all, unknown fails",
			annotations: map[string]string{v1alpha1.CarriersAnnotation: "telecom"},
			rejected: map[string]string{
				"hz-unicom": ReasonCarrier, "sh-cmcc-cdn": ReasonCarrier, "unlabelled": ReasonCarrier,
			},
		},
		{
			name:        "forbidden carrier; unknown passes",
			annotations: map[string]string{v1alpha1.ForbiddenCarriersAnnotation: "cmcc,unicom"},
			rejected:    map[string]string{"hz-unicom": ReasonForbiddenCarrier, "sh-cmcc-cdn": ReasonForbiddenCarrier},
		},
		{
			name:        "allowed provinces from ENS ids and labels",
			annotations: map[string]string{v1alpha1.ProvincesAnnotation: "zhejiang,xinjiang"},
			rejected: map[string]string{
				"sh-cmcc-cdn": ReasonProvince, "wh-bgp": ReasonProvince, "unlabelled": ReasonProvince,
			},
		},
		{
			name:        "forbidden province",
			annotations: map[string]string{v1alpha1.ForbiddenProvincesAnnotation: "xinjiang"},
			rejected:    map[string]string{"urumqi-telecom": ReasonForbiddenProv},
		},
		{
			name:        "node types: ENS ids count as ens",
			annotations: map[string]string{v1alpha1.NodeTypesAnnotation: "ens"},
			rejected:    map[string]string{"sh-cmcc-cdn": ReasonNodeType, "urumqi-telecom": ReasonNodeType, "unlabelled": ReasonNodeType},
		},
		{
			name:        "demand alone filters nothing",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "zhejiang-telecom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reasons, _, st := run(t, plugin(), tt.annotations)
			require.Nil(t, st)
			for _, ni := range nodes {
				name := ni.Node().Name
				assert.Equal(t, tt.rejected[name], reasons[name], name)
			}
		})
	}
}

func TestCarrierPreference(t *testing.T) {
	_, scores, st := run(t, plugin(), map[string]string{v1alpha1.DemandAnnotation: "zhejiang-telecom:75,jiangsu-unicom:25"})
	require.Nil(t, st)
	assert.Equal(t, map[string]int64{
		"hz-telecom": 75, "hz-unicom": 25, "sh-cmcc-cdn": 0, "wh-bgp": 100, "urumqi-telecom": 75, "unlabelled": 0,
	}, scores)

	_, scores, _ = run(t, plugin(), map[string]string{v1alpha1.DemandAnnotation: "somewhere"})
	assert.Nil(t, scores, "no preference when the users' carrier is unknown")
	_, scores, _ = run(t, plugin(), map[string]string{v1alpha1.CarriersAnnotation: "telecom"})
	assert.Nil(t, scores, "no preference without demand")
}

func TestBadAnnotation(t *testing.T) {
	_, _, st := run(t, plugin(), map[string]string{v1alpha1.CarriersAnnotation: "pigeon"})
	require.NotNil(t, st)
	assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
	assert.Contains(t, st.Message(), `"pigeon" is not a carrier`)
}
