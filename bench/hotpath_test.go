package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// noopHandle is all the handle the plugins touch when called directly.
type noopHandle struct{ fwk.Handle }

func (noopHandle) Activate(klog.Logger, map[string]*v1.Pod) {}

// hotPathPlugins are our plugins and, as yardsticks, the in-tree plugins a
// platform already pays for on every node.
func hotPathPlugins(b *testing.B, c *edgeCluster) []fwk.Plugin {
	ctx := context.Background()
	args, err := argscheme.NetworkLatencyArgs(nil)
	if err != nil {
		b.Fatal(err)
	}
	tt, err := tainttoleration.New(ctx, nil, noopHandle{}, feature.Features{})
	if err != nil {
		b.Fatal(err)
	}
	na, err := nodeaffinity.New(ctx, &config.NodeAffinityArgs{}, noopHandle{}, feature.Features{})
	if err != nil {
		b.Fatal(err)
	}
	fit, err := noderesources.NewFit(ctx, &config.NodeResourcesFitArgs{ScoringStrategy: &config.ScoringStrategy{
		Type:      config.LeastAllocated,
		Resources: []config.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}},
	}}, noopHandle{}, feature.Features{})
	if err != nil {
		b.Fatal(err)
	}
	return []fwk.Plugin{networklatency.NewWithMap(ctx, args, noopHandle{}, c.netmap), locality.NewWithMap(c.netmap),
		bandwidthcost.NewWithMap(c.billing(), noopHandle{}, c.netmap), tt, na, fit}
}

// hotPathVariant is one kind of pod sent through a plugin.
type hotPathVariant struct{ name, slo, egress string }

// variantsOf returns the pods each plugin is measured with: NetworkLatency
// with and without an SLO, and with a burst of identical pods; BandwidthCost
// with pods that state egress (it skips the others); the rest with the
// plain benchmark pod.
func variantsOf(plugin string) []hotPathVariant {
	switch plugin {
	case networklatency.Name:
		// 40ms admits about a third of the nodes.
		return []hotPathVariant{{name: "/slo=none"}, {name: "/slo=40ms", slo: "40ms"}, {name: "/slo=40ms/burst", slo: "40ms"}}
	case bandwidthcost.Name:
		return []hotPathVariant{{name: "/egress=50M", egress: "50M"}}
	}
	return []hotPathVariant{{}}
}

// BenchmarkHotPath is one pod through one plugin, calling its methods the way
// the framework does (see cycle), on the synthetic edge cluster. Consecutive
// pods differ in their demand weights, so NetworkLatency computes every
// cycle from scratch; the burst variant repeats one pod, as a Deployment's
// identical pods arriving together do, and shows what its memo saves.
func BenchmarkHotPath(b *testing.B) {
	for _, n := range clusterSizes() {
		for _, k := range []int{8, 64} {
			c := newEdgeCluster(clusterOptions{nodes: n, landmarks: k})
			for _, pl := range hotPathPlugins(b, c) {
				for _, v := range variantsOf(pl.Name()) {
					pods := c.pods("bench", v.slo, 8)
					if strings.HasSuffix(v.name, "/burst") {
						pods = pods[:1]
					}
					for _, pod := range pods {
						if v.egress != "" {
							pod.Annotations[intent.EgressAnnotation] = v.egress
						}
					}
					name := fmt.Sprintf("nodes=%d/landmarks=%d/plugin=%s%s", n, k, pl.Name(), v.name)
					b.Run(name, func(b *testing.B) { benchCycle(b, pl, pods, c) })
				}
			}
			name := fmt.Sprintf("nodes=%d/landmarks=%d/plugin=%s/replicas=%dof%d", n, k, networklatency.Name, placedReplicas, workloadReplicas)
			b.Run(name, func(b *testing.B) { benchReplicas(b, c) })
		}
	}
}

func benchCycle(b *testing.B, pl fwk.Plugin, pods []*v1.Pod, c *edgeCluster) {
	ctx := context.Background()
	feasible := make([]fwk.NodeInfo, 0, len(c.infos))
	scores := make(fwk.NodeScoreList, len(c.infos))
	var scored, i int
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if scored, err = cycle(ctx, pl, pods[i%len(pods)], c, feasible, scores); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(c.infos)), "ns/node")
	b.ReportMetric(float64(scored), "feasible")
}

// cycle runs one pod through a plugin's extension points the way the
// framework does: PreFilter; Filter on every node, or on the nodes of the
// PreFilterResult (looked up by name, as the framework's snapshot does);
// PreScore; Score on every feasible node; NormalizeScore. It returns how many
// nodes were feasible.
func cycle(ctx context.Context, pl fwk.Plugin, pod *v1.Pod, c *edgeCluster, feasible []fwk.NodeInfo, scores fwk.NodeScoreList) (int, error) {
	cs := framework.NewCycleState()
	nodes := c.infos
	skipFilter := false
	if p, ok := pl.(fwk.PreFilterPlugin); ok {
		res, st := p.PreFilter(ctx, cs, pod, nodes)
		switch {
		case st.IsSkip():
			skipFilter = true
		case !st.IsSuccess():
			return 0, st.AsError()
		case res != nil && !res.AllNodes():
			nodes = make([]fwk.NodeInfo, 0, res.NodeNames.Len())
			for name := range res.NodeNames {
				nodes = append(nodes, c.byName[name])
			}
		}
	}
	feasible = feasible[:0]
	f, hasFilter := pl.(fwk.FilterPlugin)
	for _, ni := range nodes {
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
		} else if !st.IsSuccess() {
			return 0, st.AsError()
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
