package evaluate

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/profile"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/apis/config"
	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/plugins"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// placer is a real kube-scheduler (scheduler.New) whose scheduling
// algorithm is called directly, without a queue or binding: the harness
// decides when pods arrive and records where they go.
type placer struct {
	client   kubernetes.Interface
	factory  informers.SharedInformerFactory
	sched    *scheduler.Scheduler
	prof     framework.Framework
	snapshot *internalcache.Snapshot
	name     string // the profile's schedulerName
	logger   klog.Logger
	events   events.EventBroadcaster
}

// close stops the event broadcaster and waits for the informers, once the
// context the placer was made with has ended.
func (p *placer) close() {
	p.events.Shutdown()
	p.factory.Shutdown()
}

// newPlacer builds the scheduler. With m set it runs the shipped edgeplace
// profile (manifests/scheduler/config.yaml) with the plugins reading m and,
// when billing is set, BandwidthCost configured with it instead of the
// shipped args; without m, the stock default profile with its default
// sampling.
//
// repeatable makes the edgeplace profile evaluate every node rather than
// its latency-guided candidates, and both profiles filter and score with
// one worker. Equally scored nodes are taken in the order the framework
// lists feasible nodes: for candidates, the order of a Go map; with
// several workers, the order they finish in. Runs then differ, and on a
// matrix with many equal RTTs (Seattle's come in 10 ms steps) pods of a
// draw could land on another site of the same RTT, and a few on a site
// that only seemed as near. Every node in the snapshot's order, by one
// worker, repeats itself. Its decisions are full
// evaluation's, which the candidates match but for ties (BenchmarkPruning:
// 100% of decisions on the same node or one within 1 ms, on the
// benchmark's clusters).
func newPlacer(ctx context.Context, nodes []*v1.Node, m *netmap.Map, billing *config.BandwidthCostArgs, repeatable bool) (*placer, error) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	opts := []scheduler.Option{}
	if repeatable {
		opts = append(opts, scheduler.WithParallelism(1))
	}
	name := v1.DefaultSchedulerName
	if m != nil {
		obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(manifests.SchedulerConfig(), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding the shipped scheduler configuration: %w", err)
		}
		cfg := obj.(*schedconfig.KubeSchedulerConfiguration)
		name = cfg.Profiles[0].SchedulerName
		registry := plugins.Registry(feed.Fixed(m))
		if repeatable {
			shipped := registry[networklatency.Name]
			registry[networklatency.Name] = func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
				args, err := argscheme.NetworkLatencyArgs(obj)
				if err != nil {
					return nil, err
				}
				args.MinCandidates = 0 // every node, in the snapshot's order
				return shipped(ctx, args, h)
			}
		}
		if billing != nil {
			registry[bandwidthcost.Name] = func(ctx context.Context, _ runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
				return bandwidthcost.New(ctx, billing, h, feed.Fixed(m))
			}
		}
		opts = append(opts,
			scheduler.WithProfiles(cfg.Profiles...),
			scheduler.WithPercentageOfNodesToScore(cfg.PercentageOfNodesToScore),
			scheduler.WithFrameworkOutOfTreeRegistry(registry))
	}
	snapshot := internalcache.NewEmptySnapshot()
	opts = append(opts, scheduler.WithNodeInfoSnapshot(snapshot))
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	sched, err := scheduler.New(ctx, client, factory, nil, profile.NewRecorderFactory(broadcaster), opts...)
	if err != nil {
		broadcaster.Shutdown()
		return nil, err
	}
	p := &placer{client: client, factory: factory, sched: sched, prof: sched.Profiles[name], snapshot: snapshot, name: name,
		logger: klog.FromContext(ctx), events: broadcaster}
	for _, n := range nodes {
		sched.Cache.AddNode(p.logger, n)
	}
	return p, nil
}

// place runs one pod through the profile on the current cluster state and
// returns the chosen node, or "" when the pod is unschedulable.
func (p *placer) place(ctx context.Context, pod *v1.Pod) (string, error) {
	pod = pod.DeepCopy()
	pod.Spec.SchedulerName = p.name
	if err := p.sched.Cache.UpdateSnapshot(p.logger, p.snapshot); err != nil {
		return "", err
	}
	podInfo, err := framework.NewPodInfo(pod)
	if err != nil {
		return "", err
	}
	res, err := p.sched.SchedulePod(ctx, p.prof, framework.NewCycleState(), &framework.QueuedPodInfo{PodInfo: podInfo})
	var fitErr *framework.FitError
	if errors.As(err, &fitErr) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return res.SuggestedHost, nil
}

// bind records a placed pod in the scheduler's cache, as a binding would,
// so that later decisions see it.
func (p *placer) bind(pod *v1.Pod, node string) error {
	pod = pod.DeepCopy()
	pod.Spec.NodeName = node
	return p.sched.Cache.AddPod(p.logger, pod)
}

// addReplicaSet creates the workload in this scheduler's API and waits until
// its informer holds it.
func (p *placer) addReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet) error {
	if _, err := p.client.AppsV1().ReplicaSets(rs.Namespace).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		return err
	}
	lister := p.factory.Apps().V1().ReplicaSets().Lister()
	p.factory.Start(ctx.Done()) // in case no plugin asked for ReplicaSets before the start
	return wait.PollUntilContextTimeout(ctx, 2*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, err := lister.ReplicaSets(rs.Namespace).Get(rs.Name)
		return err == nil, nil
	})
}
