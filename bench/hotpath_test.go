package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// edgeCluster is an ENS-like cluster: nodes spread over the 93 synthetic
// sites, each measured to the first k site populations with RTT from the
// synthetic model plus per-node noise; 5% of the nodes' measurements are
// stale. Every node carries one taint that the benchmark pod tolerates.
type edgeCluster struct {
	nodes     []fwk.NodeInfo
	netmap    *netmap.Map
	landmarks []string
	now       time.Time
}

func newEdgeCluster(n, k int) *edgeCluster {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	sites := synthetic.Sites()
	c := &edgeCluster{netmap: netmap.New(), now: time.Now()}
	for _, s := range sites[:k] {
		c.landmarks = append(c.landmarks, s.Population())
		c.netmap.SetLandmark(s.Population())
	}
	for i := range n {
		site := sites[i%len(sites)]
		name := fmt.Sprintf("edge-%s-%d", site.ID(), i/len(sites))
		node := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha1.SiteLabel: site.ID()}},
			Spec:       v1.NodeSpec{Taints: []v1.Taint{{Key: "edgeplace.io/edge", Value: "true", Effect: v1.TaintEffectNoSchedule}}},
		}
		ni := framework.NewNodeInfo()
		ni.SetNode(node)
		c.nodes = append(c.nodes, ni)
		c.netmap.SetNode(name, site.ID())

		observed := c.now.Add(-time.Minute)
		if rng.IntN(20) == 0 {
			observed = c.now.Add(-time.Hour)
		}
		nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for j, lm := range c.landmarks {
			p50 := synthetic.RTT(site, sites[j]) + time.Duration(rng.IntN(500))*time.Microsecond
			nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: lm, RTTP50Microseconds: p50.Microseconds(), RTTP90Microseconds: synthetic.P90(p50).Microseconds(),
				Samples: 30, ObservedTime: metav1.NewTime(observed),
			})
		}
		c.netmap.SetNodeNetwork(nn)
	}
	c.netmap.SetState(netmap.Ready)
	c.netmap.Flush()
	return c
}

func (c *edgeCluster) pod(demand, slo string) *v1.Pod {
	annotations := map[string]string{intent.DemandAnnotation: demand}
	if slo != "" {
		annotations[intent.MaxRTTAnnotation] = slo
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default", UID: "bench", Annotations: annotations},
		Spec: v1.PodSpec{Tolerations: []v1.Toleration{{
			Key: "edgeplace.io/edge", Operator: v1.TolerationOpEqual, Value: "true", Effect: v1.TaintEffectNoSchedule,
		}}},
	}
}

type noopHandle struct{ fwk.Handle }

func (noopHandle) Activate(klog.Logger, map[string]*v1.Pod) {}

// cycle runs one pod through a plugin's extension points the way the
// framework does: PreFilter, Filter on every node it admits, PreScore, Score
// on every feasible node, NormalizeScore. It returns how many nodes scored.
func cycle(ctx context.Context, pl fwk.Plugin, pod *v1.Pod, nodes []fwk.NodeInfo, feasible []fwk.NodeInfo, scores fwk.NodeScoreList) (int, error) {
	cs := framework.NewCycleState()
	var admitted *fwk.PreFilterResult
	skipFilter := false
	if p, ok := pl.(fwk.PreFilterPlugin); ok {
		res, st := p.PreFilter(ctx, cs, pod, nodes)
		if st.IsSkip() {
			skipFilter = true
		} else if !st.IsSuccess() {
			return 0, st.AsError()
		}
		admitted = res
	}
	feasible = feasible[:0]
	f, hasFilter := pl.(fwk.FilterPlugin)
	for _, ni := range nodes {
		if admitted != nil && !admitted.AllNodes() && !admitted.NodeNames.Has(ni.Node().Name) {
			continue
		}
		if hasFilter && !skipFilter && !f.Filter(ctx, cs, pod, ni).IsSuccess() {
			continue
		}
		feasible = append(feasible, ni)
	}
	s, ok := pl.(fwk.ScorePlugin)
	if !ok {
		return len(feasible), nil
	}
	if p, ok := pl.(fwk.PreScorePlugin); ok {
		if st := p.PreScore(ctx, cs, pod, feasible); st.IsSkip() {
			return len(feasible), nil
		}
	}
	scores = scores[:len(feasible)]
	for i, ni := range feasible {
		v, st := s.Score(ctx, cs, pod, ni)
		if !st.IsSuccess() {
			return 0, st.AsError()
		}
		scores[i] = fwk.NodeScore{Name: ni.Node().Name, Score: v}
	}
	if ext := s.ScoreExtensions(); ext != nil {
		if st := ext.NormalizeScore(ctx, cs, pod, scores); !st.IsSuccess() {
			return 0, st.AsError()
		}
	}
	return len(feasible), nil
}

// BenchmarkHotPath is one pod's full cycle through each plugin; in-tree
// TaintToleration on the same nodes is the yardstick.
func BenchmarkHotPath(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 5000} {
		for _, k := range []int{8, 64} {
			c := newEdgeCluster(n, k)
			args, err := argscheme.NetworkLatencyArgs(nil)
			if err != nil {
				b.Fatal(err)
			}
			nl := networklatency.NewWithMap(ctx, args, noopHandle{}, c.netmap)
			tt, err := tainttoleration.New(ctx, nil, nil, feature.Features{})
			if err != nil {
				b.Fatal(err)
			}
			demand := c.landmarks[0] + ":60," + c.landmarks[len(c.landmarks)-1] + ":40"
			cases := []struct {
				name string
				pl   fwk.Plugin
				pod  *v1.Pod
			}{
				{"plugin=NetworkLatency/slo=none", nl, c.pod(demand, "")},
				{"plugin=NetworkLatency/slo=40ms", nl, c.pod(demand, "40ms")},
				{"plugin=TaintToleration", tt, c.pod(demand, "")},
			}
			for _, tc := range cases {
				b.Run(fmt.Sprintf("nodes=%d/landmarks=%d/%s", n, k, tc.name), func(b *testing.B) {
					feasible := make([]fwk.NodeInfo, 0, n)
					scores := make(fwk.NodeScoreList, n)
					b.ReportAllocs()
					scored := 0
					for b.Loop() {
						if scored, err = cycle(ctx, tc.pl, tc.pod, c.nodes, feasible, scores); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
					b.ReportMetric(float64(scored), "feasible")
				})
			}
		}
	}
}
