package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// noopHandle is all the handle the plugins touch when called directly.
type noopHandle struct{ fwk.Handle }

func (noopHandle) Activate(klog.Logger, map[string]*v1.Pod)               {}
func (noopHandle) KubeConfig() *rest.Config                               { return nil }
func (noopHandle) ClientSet() kubernetes.Interface                        { return nil }
func (noopHandle) SharedInformerFactory() informers.SharedInformerFactory { return nil }

// workloadHandle adds informers, for replica coverage.
type workloadHandle struct {
	*snapshotHandle
	informers informers.SharedInformerFactory
}

func (h workloadHandle) SharedInformerFactory() informers.SharedInformerFactory { return h.informers }

// newPlugin builds one of edgeplace's plugins with its New, on the
// benchmark's map.
func newPlugin[T fwk.Plugin](b *testing.B, New func(context.Context, runtime.Object, fwk.Handle, feed.Source) (fwk.Plugin, error), args runtime.Object, h fwk.Handle, m *netmap.Map) T {
	b.Helper()
	pl, err := New(context.Background(), args, h, feed.Fixed(m))
	if err != nil {
		b.Fatal(err)
	}
	return pl.(T)
}

// snapshotHandle gives a plugin the scheduler's snapshot of the cluster, as
// the framework's handle does: NetworkLatency reads the NodeInfos of the
// nodes it considers as candidates, and replica coverage the pods placed.
type snapshotHandle struct {
	noopHandle
	snapshot *internalcache.Snapshot
}

func (h *snapshotHandle) SnapshotSharedLister() fwk.SharedLister { return h.snapshot }

// hotPathPlugins are our plugins and, as yardsticks, the in-tree plugins a
// platform already pays for on every node. The first is NetworkLatency,
// whose PreFilter picks the nodes every plugin is then evaluated on.
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
	h := &snapshotHandle{snapshot: internalcache.NewSnapshot(nil, c.nodes)}
	return []fwk.Plugin{newPlugin[*networklatency.NetworkLatency](b, networklatency.New, args, h, c.netmap),
		newPlugin[*locality.Locality](b, locality.New, nil, noopHandle{}, c.netmap),
		newPlugin[*bandwidthcost.BandwidthCost](b, bandwidthcost.New, c.billing(), noopHandle{}, c.netmap), tt, na, fit}
}

// hotPathVariant is one kind of pod sent through a plugin; candidates
// evaluates the plugin on NetworkLatency's candidates, as the shipped
// profile does, rather than on every node.
type hotPathVariant struct {
	name, slo, egress string
	candidates        bool
}

// variantsOf returns the pods each plugin is measured with: NetworkLatency
// with and without an SLO, and with a burst of identical pods; Locality and
// BandwidthCost (with pods that state egress: it skips the others) on
// NetworkLatency's candidates; the in-tree yardsticks on every node, as
// the stock profile's full evaluation, and on the same candidates.
func variantsOf(plugin string) []hotPathVariant {
	switch plugin {
	case networklatency.Name:
		// 40ms admits about a third of the nodes.
		return []hotPathVariant{{name: "/slo=none"}, {name: "/slo=40ms", slo: "40ms"}, {name: "/slo=40ms/burst", slo: "40ms"}}
	case locality.Name:
		return []hotPathVariant{{candidates: true}}
	case bandwidthcost.Name:
		return []hotPathVariant{{name: "/egress=50M", egress: "50M", candidates: true}}
	}
	return []hotPathVariant{{}, {name: "/nodes=candidates", candidates: true}}
}

// BenchmarkHotPath is one pod through one plugin, calling its methods the way
// the framework does (see cycle), on the synthetic edge cluster. Consecutive
// pods differ in their demand weights, so NetworkLatency works out every
// cycle's weighted RTTs and candidates afresh (the per-landmark columns
// they are made of are shared within a second of the map, as in the
// scheduler); the burst variant repeats one pod, as a Deployment's
// identical pods arriving together do, and shows what its memo saves.
//
// Besides ns/node (per node of the cluster, everything included), it
// reports ns/evaluated (Filter, Score and NormalizeScore per node handed to
// Filter), prefilter-ns (the plugin's PreFilter and PreScore, per pod),
// resolve-ns (the framework's work between them: merging PreFilterResults
// and looking their nodes up by name) and evaluated (how many nodes Filter
// was handed).
func BenchmarkHotPath(b *testing.B) {
	for _, n := range clusterSizes() {
		for _, k := range []int{8, 64} {
			c := newEdgeCluster(clusterOptions{nodes: n, landmarks: k})
			plugins := hotPathPlugins(b, c)
			nl := plugins[0].(*networklatency.NetworkLatency)
			for _, pl := range plugins {
				for _, v := range variantsOf(pl.Name()) {
					pods := c.pods("bench", v.slo, 8)
					if strings.HasSuffix(v.name, "/burst") {
						pods = pods[:1]
					}
					for _, pod := range pods {
						if v.egress != "" {
							pod.Annotations[v1alpha1.EgressAnnotation] = v.egress
						}
					}
					var narrow fwk.PreFilterPlugin
					if v.candidates {
						narrow = nl
					}
					name := fmt.Sprintf("nodes=%d/landmarks=%d/plugin=%s%s", n, k, pl.Name(), v.name)
					b.Run(name, func(b *testing.B) { benchCycle(b, pl, narrow, pods, c) })
				}
			}
			name := fmt.Sprintf("nodes=%d/landmarks=%d/plugin=%s/replicas=%dof%d", n, k, networklatency.Name, placedReplicas, workloadReplicas)
			b.Run(name, func(b *testing.B) { benchReplicas(b, c) })
		}
	}
}

// benchCycle runs pods through pl, after narrow's PreFilter (if not nil)
// has picked the nodes it is evaluated on.
func benchCycle(b *testing.B, pl fwk.Plugin, narrow fwk.PreFilterPlugin, pods []*v1.Pod, c *edgeCluster) {
	ctx := context.Background()
	feasible := make([]fwk.NodeInfo, 0, len(c.infos))
	scores := make(fwk.NodeScoreList, len(c.infos))
	var t phases
	var err error
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if err = t.cycle(ctx, pl, narrow, pods[i%len(pods)], c, feasible, scores); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(t.pre+t.resolve+t.eval)/float64(b.N)/float64(len(c.infos)), "ns/node")
	b.ReportMetric(float64(t.eval)/float64(max(t.evaluated, 1)), "ns/evaluated")
	b.ReportMetric(float64(t.pre)/float64(b.N), "prefilter-ns")
	b.ReportMetric(float64(t.resolve)/float64(b.N), "resolve-ns")
	b.ReportMetric(float64(t.evaluated)/float64(b.N), "evaluated")
	b.ReportMetric(float64(t.feasible), "feasible")
}

// phases adds up the time a plugin spends per phase over many cycles.
type phases struct {
	pre, eval time.Duration // PreFilter+PreScore; Filter+Score+NormalizeScore
	// resolve is the framework's share between them: merging the
	// PreFilterResults and looking their node names up in the snapshot.
	resolve   time.Duration
	evaluated int // nodes handed to Filter, over all cycles
	feasible  int // in the last cycle
}

// cycle runs one pod through a plugin's extension points the way the
// framework does: PreFilter; Filter on every node, or on the nodes of the
// PreFilterResults (looked up by name, as the framework's snapshot does);
// PreScore; Score on every feasible node; NormalizeScore. narrow's
// PreFilter runs first, untimed, when given: its result narrows the nodes
// as the framework intersects PreFilterResults.
func (t *phases) cycle(ctx context.Context, pl fwk.Plugin, narrow fwk.PreFilterPlugin, pod *v1.Pod, c *edgeCluster, feasible []fwk.NodeInfo, scores fwk.NodeScoreList) error {
	cs := framework.NewCycleState()
	var result *fwk.PreFilterResult
	if narrow != nil && narrow != pl {
		res, st := narrow.PreFilter(ctx, cs, pod, c.infos)
		if !st.IsSuccess() && !st.IsSkip() {
			return st.AsError()
		}
		result = res
	}
	start := time.Now()
	skipFilter := false
	if p, ok := pl.(fwk.PreFilterPlugin); ok {
		res, st := p.PreFilter(ctx, cs, pod, c.infos)
		resolveStart := time.Now()
		t.pre += resolveStart.Sub(start)
		switch {
		case st.IsSkip():
			skipFilter = true
		case !st.IsSuccess():
			return st.AsError()
		default:
			result = result.Merge(res)
		}
		start = resolveStart
	}
	nodes := c.infos
	if !result.AllNodes() {
		nodes = make([]fwk.NodeInfo, 0, result.NodeNames.Len())
		for name := range result.NodeNames {
			nodes = append(nodes, c.byName[name])
		}
	}
	filterStart := time.Now()
	t.resolve += filterStart.Sub(start)
	feasible = feasible[:0]
	f, hasFilter := pl.(fwk.FilterPlugin)
	for _, ni := range nodes {
		if hasFilter && !skipFilter && !f.Filter(ctx, cs, pod, ni).IsSuccess() {
			continue
		}
		feasible = append(feasible, ni)
	}
	t.evaluated += len(nodes)
	t.feasible = len(feasible)
	t.eval += time.Since(filterStart)
	s, ok := pl.(fwk.ScorePlugin)
	if !ok {
		return nil
	}
	if p, ok := pl.(fwk.PreScorePlugin); ok {
		preScore := time.Now()
		st := p.PreScore(ctx, cs, pod, feasible)
		t.pre += time.Since(preScore)
		if st.IsSkip() {
			return nil
		} else if !st.IsSuccess() {
			return st.AsError()
		}
	}
	scoreStart := time.Now()
	defer func() { t.eval += time.Since(scoreStart) }()
	scores = scores[:len(feasible)]
	for i, ni := range feasible {
		v, st := s.Score(ctx, cs, pod, ni)
		if !st.IsSuccess() {
			return st.AsError()
		}
		scores[i] = fwk.NodeScore{Name: ni.Node().Name, Score: v}
	}
	if ext := s.ScoreExtensions(); ext != nil {
		if st := ext.NormalizeScore(ctx, cs, pod, scores); !st.IsSuccess() {
			return st.AsError()
		}
	}
	return nil
}
