package bench

import (
	"context"
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/profile"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/plugins"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// BenchmarkCycle schedules one pod through the real kube-scheduler
// (scheduler.New with the shipped profile from manifests/, its
// SchedulePod: PreFilter, parallel Filter, PreScore, parallel Score,
// NormalizeScore and selection) over a snapshot of the synthetic edge
// cluster, without binding. profile=noop is the same profile with no-op
// plugins registered under edgeplace's plugin names: the framework's and the
// stock plugins' own cost, against which edgeplace's is a ratio.
func BenchmarkCycle(b *testing.B) {
	for _, n := range clusterSizes() {
		c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64})
		cases := []struct {
			name     string
			registry frameworkruntime.Registry
			slo      string
		}{
			{"profile=noop/slo=none", noopRegistry(), ""},
			{"profile=edgeplace/slo=none", c.registry(), ""},
			{"profile=edgeplace/slo=40ms", c.registry(), "40ms"},
		}
		for _, tc := range cases {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, tc.name), func(b *testing.B) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				sched, prof := newScheduler(ctx, b, c, tc.registry)
				pods := c.pods("cycle", tc.slo, 8)
				var evaluated, i int
				b.ReportAllocs()
				for b.Loop() {
					podInfo, err := framework.NewPodInfo(pods[i%len(pods)])
					i++
					if err != nil {
						b.Fatal(err)
					}
					res, err := sched.SchedulePod(ctx, prof, framework.NewCycleState(), &framework.QueuedPodInfo{PodInfo: podInfo})
					if err != nil {
						b.Fatal(err)
					}
					evaluated = res.EvaluatedNodes
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
				b.ReportMetric(float64(evaluated), "evaluated")
			})
		}
	}
}

// registry registers edgeplace's plugins reading this cluster's network map.
func (c *edgeCluster) registry() frameworkruntime.Registry {
	return plugins.Registry(feed.Fixed(c.netmap))
}

// noopRegistry registers, under each of edgeplace's plugin names, a plugin
// with the same extension points that does nothing at them (and so
// narrows nothing: every node is evaluated).
func noopRegistry() frameworkruntime.Registry {
	r := frameworkruntime.Registry{}
	for _, name := range []string{networklatency.Name, locality.Name, bandwidthcost.Name} {
		r[name] = func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) { return noop{name}, nil }
	}
	return r
}

type noop struct{ name string }

func (n noop) Name() string { return n.name }
func (noop) PreFilter(context.Context, fwk.CycleState, *v1.Pod, []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	return nil, nil
}
func (noop) PreFilterExtensions() fwk.PreFilterExtensions                              { return nil }
func (noop) Filter(context.Context, fwk.CycleState, *v1.Pod, fwk.NodeInfo) *fwk.Status { return nil }
func (noop) PreScore(context.Context, fwk.CycleState, *v1.Pod, []fwk.NodeInfo) *fwk.Status {
	return nil
}
func (noop) Score(context.Context, fwk.CycleState, *v1.Pod, fwk.NodeInfo) (int64, *fwk.Status) {
	return 0, nil
}
func (noop) ScoreExtensions() fwk.ScoreExtensions { return nil }
func (noop) PostFilter(context.Context, fwk.CycleState, *v1.Pod, fwk.NodeToStatusReader) (*fwk.PostFilterResult, *fwk.Status) {
	return nil, fwk.NewStatus(fwk.Unschedulable)
}
func (noop) SignPod(context.Context, *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	return nil, nil
}

// newScheduler builds the real scheduler for the shipped profile over a
// snapshot of the cluster. Nothing is started: SchedulePod reads the snapshot.
func newScheduler(ctx context.Context, b *testing.B, c *edgeCluster, registry frameworkruntime.Registry) (*scheduler.Scheduler, framework.Framework) {
	obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(manifests.SchedulerConfig(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := obj.(*schedconfig.KubeSchedulerConfiguration)
	client := fake.NewClientset()
	sched, err := scheduler.New(ctx, client, informers.NewSharedInformerFactory(client, 0), nil,
		profile.NewRecorderFactory(events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})),
		scheduler.WithProfiles(cfg.Profiles...),
		scheduler.WithPercentageOfNodesToScore(cfg.PercentageOfNodesToScore),
		scheduler.WithParallelism(cfg.Parallelism),
		scheduler.WithFrameworkOutOfTreeRegistry(registry),
		scheduler.WithNodeInfoSnapshot(internalcache.NewSnapshot(nil, c.nodes)),
	)
	if err != nil {
		b.Fatal(err)
	}
	return sched, sched.Profiles[cfg.Profiles[0].SchedulerName]
}
