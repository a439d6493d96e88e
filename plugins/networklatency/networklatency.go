package networklatency

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/cyclestate"
	"github.com/edgeplace/edgeplace/pkg/feed"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/ondemand"
	"github.com/edgeplace/edgeplace/pkg/placement"
)

// Name is the plugin's name in the registry and in configurations.
const Name = "NetworkLatency"

// NetworkLatency implements the plugin.
type NetworkLatency struct {
	state   *cyclestate.Slot[*cycleState]
	handle  fwk.Handle
	args    *config.NetworkLatencyArgs
	netmap  *netmap.Map
	parse   intent.Options
	waiting *waitingPods
	// lastCount is when network_map_entries was last set (unix nanos).
	lastCount atomic.Int64
	// workloads holds replica-coverage plans; nil disables coverage.
	workloads *coverage.Workloads
	// pods finds the pods of a pod's dependency; nil disables dependency
	// latency.
	pods corelisters.PodLister
	// admitted and byRow memoise PreFilter's rows within the SLO and
	// per-row RTTs for bursts of pods with the same intent; columns, each
	// landmark's RTT by row, which pods that weigh landmarks differently
	// share.
	admitted memo[netmap.Candidates]
	byRow    memo[[]int32]
	columns  memo[[]int32]
	// spill carries PostFilter's findings to the pod's next attempt.
	spill *spillover
	// replacements are the nodes the rebalancer expects the replacements
	// of the pods it evicts on (replacement.go).
	replacements *replacements
	// measure asks probes to measure what a placement estimated; nil when
	// the args turn that off or there is no API server.
	measure *ondemand.Requester
	// buffers holds *pickBuffers.
	buffers sync.Pool
	now     func() time.Time
}

var (
	_ fwk.PreFilterPlugin   = &NetworkLatency{}
	_ fwk.FilterPlugin      = &NetworkLatency{}
	_ fwk.PreScorePlugin    = &NetworkLatency{}
	_ fwk.ScorePlugin       = &NetworkLatency{}
	_ fwk.ScoreExtensions   = &NetworkLatency{}
	_ fwk.EnqueueExtensions = &NetworkLatency{}
	_ fwk.SignPlugin        = &NetworkLatency{}
	_ fwk.ReservePlugin     = &NetworkLatency{}
	_ fwk.PostFilterPlugin  = &NetworkLatency{}
)

// New is the plugin factory (plugins.Registry hands it the map source). It
// decodes and validates the args (a bad value fails scheduler start-up,
// naming the field), reads the map the source hands it and asks for
// estimates within the args' TTL. With the scheduler's informers it also
// turns on replica coverage and dependency latency, which read
// ReplicaSets, StatefulSets and Pods.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle, maps feed.Source) (fwk.Plugin, error) {
	args, err := argscheme.NetworkLatencyArgs(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	m, err := maps.Map(ctx, h.KubeConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: the network map: %w", Name, err)
	}
	m.EnableEstimation(args.MeasurementTTL.Duration)
	pl := &NetworkLatency{
		state:        cyclestate.New[*cycleState](stateKey),
		handle:       h,
		args:         args,
		netmap:       m,
		parse:        placement.Options(args),
		waiting:      newWaitingPods(),
		spill:        newSpillover(),
		replacements: newReplacements(),
		columns:      memo[[]int32]{size: 16},
		buffers:      sync.Pool{New: func() any { return &pickBuffers{} }},
		now:          time.Now,
	}
	if f := h.SharedInformerFactory(); f != nil {
		pl.workloads = coverage.NewWorkloads(f, h.ClientSet())
		pl.pods = f.Core().V1().Pods().Lister()
		if err := pl.replacements.watch(f.Core().V1().Pods().Informer(), pl.now); err != nil {
			return nil, fmt.Errorf("%s: watching pods for the rebalancer's expected nodes: %w", Name, err)
		}
	}
	if n := args.MeasureRequestsPerSecond; n > 0 && h.KubeConfig() != nil {
		edge, err := edgeclient.NewForConfig(feed.JSONConfig(h.KubeConfig()))
		if err != nil {
			return nil, fmt.Errorf("%s: a client for measure requests: %w", Name, err)
		}
		pl.measure = ondemand.New(edge, float64(n))
		go pl.measure.Run(ctx)
	}
	registerMetrics()
	m.OnUpdate(func(_, next *netmap.Snapshot) {
		pl.activateHelped(ctx, next)
		pl.countEntries(next)
	})
	return pl, nil
}

// Name returns the plugin's name.
func (pl *NetworkLatency) Name() string { return Name }

// SignPod keeps OpportunisticBatching available to the profile's other pods
// and refuses it for pods with a network intent. Their ranking is relative
// to the best feasible node (NormalizeScore), which changes as earlier pods
// fill the nearest nodes: a batch's cached ranking would then send the next
// pod to whatever the stock plugins rank highest among the far nodes, not to
// the nearest one with room.
func (pl *NetworkLatency) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	_, demand := pod.Annotations[v1alpha1.DemandAnnotation]
	_, profile := pod.Annotations[v1alpha1.ProfileAnnotation]
	_, dependency := pod.Annotations[v1alpha1.DependsOnAnnotation]
	if demand || profile || dependency {
		return nil, fwk.NewStatus(fwk.Unschedulable, "pods with a network intent are ranked against the nodes still feasible, which earlier placements change")
	}
	return nil, nil
}

// intentOf resolves the pod's intent outside a scheduling cycle (the
// queueing hints), as PreFilter does in one: with the args' options and
// the current map's LatencyProfiles.
func (pl *NetworkLatency) intentOf(pod *v1.Pod) (*intent.Intent, error) {
	return placement.IntentFor(nil, pod, pl.netmap.Current().Profile, pl.parse)
}
