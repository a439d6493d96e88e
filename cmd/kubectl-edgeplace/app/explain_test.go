package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/netmaptest"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
	"k8s.io/client-go/rest"
)

// handle is what NetworkLatency uses of the framework's handle: no
// snapshot (so it does not narrow the candidates), nothing to activate,
// no kubeconfig or clientset, and informers on a fake clientset for
// depends-on.
type handle struct {
	fwk.Handle
	informers informers.SharedInformerFactory
}

func (handle) SnapshotSharedLister() fwk.SharedLister                   { return nil }
func (handle) Activate(klog.Logger, map[string]*v1.Pod)                 {}
func (handle) KubeConfig() *rest.Config                                 { return nil }
func (handle) ClientSet() kubernetes.Interface                          { return nil }
func (h handle) SharedInformerFactory() informers.SharedInformerFactory { return h.informers }

// agreementMap is four single-node sites, two user landmarks and the
// landmark of site d, where the database runs; site c has only estimates
// to the users, a peer estimate to users-a and a coordinate estimate to
// users-b, and site b's measurements of users-a are p50 20 ms, p90 30 ms.
func agreementMap(now time.Time) *netmap.Map {
	rtt := func(p50, p90 int64) netmaptest.RTT { return netmaptest.RTT{P50: p50, P90: p90} }
	return netmaptest.Sites(now,
		map[string]v1alpha1.Location{"users-a": {}, "users-b": {}, "db": {Site: "d"}},
		map[string]map[string]netmaptest.RTT{
			"a": {"users-a": rtt(5, 6), "users-b": rtt(40, 44), "db": rtt(30, 33)},
			"b": {"users-a": rtt(20, 30), "users-b": rtt(8, 9), "db": rtt(12, 14)},
			"c": {"db": rtt(9, 10)},
			"d": {"users-a": rtt(60, 70), "users-b": rtt(25, 27), "db": rtt(1, 1)},
		},
		netmaptest.Estimate{Site: "c", Landmark: "users-a", RTT: rtt(10, 12), Source: netmap.PeerEstimate},
		netmaptest.Estimate{Site: "c", Landmark: "users-b", RTT: rtt(7, 8), Source: netmap.CoordinateEstimate})
}

// TestExplainAgreesWithNetworkLatency holds explain's re-simulation to
// NetworkLatency's own Filter and Score, node by node: the same weighted
// RTT, and "within the SLO" exactly where Filter passes the node.
func TestExplainAgreesWithNetworkLatency(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := agreementMap(now)
	db := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "default", UID: "db-0", Labels: map[string]string{"app": "db"}},
		Spec: v1.PodSpec{NodeName: "d-0"}, Status: v1.PodStatus{Phase: v1.PodRunning}}
	kube := fake.NewClientset(db)
	factory := informers.NewSharedInformerFactory(kube, 0)

	args, err := argscheme.NetworkLatencyArgs(nil)
	require.NoError(t, err)
	args.MeasurementTTL = metav1.Duration{Duration: time.Hour}
	p, err := networklatency.New(ctx, args, handle{informers: factory}, feed.Fixed(m))
	require.NoError(t, err)
	pl := p.(*networklatency.NetworkLatency)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	c := &clients{kube: kube, namespace: "default"}

	for _, tc := range []struct {
		name        string
		annotations map[string]string
	}{
		{"no SLO, two weighted landmarks", map[string]string{v1alpha1.DemandAnnotation: "users-a:3,users-b:1"}},
		{"SLO, peer estimates (the default)", map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms"}},
		{"SLO, no estimates", map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms", v1alpha1.EstimatesAnnotation: "none"}},
		{"SLO, coordinate estimates", map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "10ms", v1alpha1.EstimatesAnnotation: "coordinates"}},
		{"SLO on p50", map[string]string{v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms", v1alpha1.PercentileAnnotation: "p50"}},
		{"depends-on, weighted", map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.DependsOnAnnotation: "app=db", v1alpha1.DependsOnWeightAnnotation: "2"}},
		{"depends-on with a bound, and an SLO", map[string]string{v1alpha1.DemandAnnotation: "users-b", v1alpha1.MaxRTTAnnotation: "30ms",
			v1alpha1.DependsOnAnnotation: "app=db", v1alpha1.DependsOnMaxRTTAnnotation: "13ms", v1alpha1.EstimatesAnnotation: "coordinates"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: types.UID("web"), Annotations: tc.annotations}}
			cs := framework.NewCycleState()
			result, st := pl.PreFilter(ctx, cs, pod, nil)
			require.True(t, st.IsSuccess(), "PreFilter: %v", st)

			in, err := placement.IntentFor(nil, pod, m.Current().Profile, placement.DefaultOptions())
			require.NoError(t, err)
			req, err := c.request(ctx, m.Current().View(time.Now(), args.MeasurementTTL.Duration), pod, in)
			require.NoError(t, err)
			rows := resimulate(req)
			require.Len(t, rows, 4)
			within := 0
			for _, r := range rows {
				ni := framework.NewNodeInfo()
				ni.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: r.node}})
				score, st := pl.Score(ctx, cs, pod, ni)
				require.True(t, st.IsSuccess())
				assert.Equal(t, score, int64(r.rtt), "%s: weighted RTT", r.node)
				passes := pl.Filter(ctx, cs, pod, ni).IsSuccess()
				assert.Equal(t, passes, r.verdict == placement.Meets, "%s: Filter %v, explain %v", r.node, passes, r.verdict)
				if r.verdict == placement.Meets {
					within++
					if result != nil {
						assert.True(t, result.NodeNames.Has(r.node), "%s: admitted by explain, not by PreFilter", r.node)
					}
				}
			}
			if req.HoldsRows() {
				assert.Less(t, within, len(rows), "a case with bounds should turn some node down")
			}
		})
	}
}

// TestExplainMarksRefusedEstimates: the RTT table shows an estimate the
// pod's SLO does not accept, and says the policy refuses it.
func TestExplainMarksRefusedEstimates(t *testing.T) {
	now := time.Now()
	m := agreementMap(now)
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{
		v1alpha1.DemandAnnotation: "users-a", v1alpha1.MaxRTTAnnotation: "25ms", v1alpha1.EstimatesAnnotation: "none"}}}
	in, err := placement.IntentFor(nil, pod, m.Current().Profile, placement.DefaultOptions())
	require.NoError(t, err)
	req, err := placement.Resolve(m.Current().View(now, time.Hour), in)
	require.NoError(t, err)
	var out strings.Builder
	printNodeRTT(&out, &req, "c-0")
	assert.Regexp(t, `users-a\s+1\s+12ms\s+-\s+-\s+peer-estimated \(the SLO's estimates policy refuses it\)`, out.String(),
		"an estimate says nothing of loss and jitter")
	out.Reset()
	printNodeRTT(&out, &req, "a-0")
	assert.NotContains(t, out.String(), "refuses", "a measurement is never refused")
	assert.Regexp(t, `users-a\s+1\s+\S+\s+0\.00%\s+\S+\s+measured`, out.String(), "a measurement's loss and jitter")
}

// TestExplainMarksSuspectMeasurements: a node whose published RTT the map
// does not trust shows the estimate that stands in for it, marked suspect
// with the published value and its peers'.
func TestExplainMarksSuspectMeasurements(t *testing.T) {
	now := time.Now()
	m := netmap.New()
	m.EnableEstimation(time.Hour)
	m.SetLandmark("users")
	for node, ms := range map[string]int64{"liar": 0, "peer-1": 20, "peer-2": 21} {
		m.SetNode(node, map[string]string{v1alpha1.SiteLabel: "s"})
		m.SetNodeNetwork(synthetic.NodeNetwork(node, now, map[string]int64{"users": max(ms*1000, 100)}))
	}
	m.SetState(netmap.Ready)
	m.PublishEstimates(estimate.NewMapEstimator().Estimate(context.Background(), m.Flush(), now, time.Hour))
	m.Flush()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{
		v1alpha1.DemandAnnotation: "users", v1alpha1.MaxRTTAnnotation: "25ms"}}}
	in, err := placement.IntentFor(nil, pod, m.Current().Profile, placement.DefaultOptions())
	require.NoError(t, err)
	req, err := placement.Resolve(m.Current().View(now, time.Hour), in)
	require.NoError(t, err)
	var out strings.Builder
	printNodeRTT(&out, &req, "liar")
	assert.Regexp(t, `users\s+1\s+\S+ms\s+-\s+-\s+peer-estimated \(suspect: published 100µs, peers' lowest 20ms, not trusted\)`, out.String())
}
