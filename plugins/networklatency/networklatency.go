// Package networklatency is the NetworkLatency scheduler plugin: it keeps a
// pod within its RTT SLO of the user populations (landmarks) it serves and
// prefers the nodes with the lowest demand-weighted measured RTT.
//
// The hot path (Filter, Score, NormalizeScore) is in score.go. PreFilter,
// which resolves the pod's intent once per cycle, is in prefilter.go; the
// rule for the nodes a pod is evaluated on (the nearest that can win) is
// pkg/candidates, and what happens when they all turn it down is in
// postfilter.go. Requeueing is in enqueue.go.
package networklatency

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/cyclestate"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/netmap/feed"
	"github.com/edgeplace/edgeplace/pkg/placement"
)

// Name is the plugin's name in the registry and in configurations.
const Name = "NetworkLatency"

// ReasonLoading holds pods with a network intent while the network map
// syncs at start-up; they are retried once it is ready.
const ReasonLoading = "network measurements are still loading"

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

// New is the plugin factory registered with the scheduler. It decodes and
// validates the args (a bad value fails scheduler start-up, naming the
// field) and attaches the process's network map, fed by its own informers
// from the scheduler's kubeconfig.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, err := argscheme.NetworkLatencyArgs(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if h.KubeConfig() == nil {
		return nil, fmt.Errorf("%s: the scheduler handle has no kubeconfig to watch measurements with", Name)
	}
	m, err := feed.ForConfig(ctx, h.KubeConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: starting the network map: %w", Name, err)
	}
	m.EnableEstimation(args.MeasurementTTL.Duration)
	pl := NewWithMap(ctx, args, h, m)
	if f := h.SharedInformerFactory(); f != nil {
		pl.WithWorkloads(f)
	}
	return pl, nil
}

// NewWithMap builds the plugin on a given map; benchmarks and tests use it to
// read a map they fill themselves.
func NewWithMap(ctx context.Context, args *config.NetworkLatencyArgs, h fwk.Handle, m *netmap.Map) *NetworkLatency {
	pl := &NetworkLatency{
		state:   cyclestate.New[*cycleState](stateKey),
		handle:  h,
		args:    args,
		netmap:  m,
		parse:   placement.Options(args),
		waiting: newWaitingPods(),
		spill:   newSpillover(),
		columns: memo[[]int32]{size: 16},
		buffers: sync.Pool{New: func() any { return &pickBuffers{} }},
		now:     time.Now,
	}
	registerMetrics()
	m.OnUpdate(func(_, next *netmap.Snapshot) {
		pl.activateHelped(ctx, next)
		pl.countEntries(next)
	})
	return pl
}

// WithWorkloads turns on replica coverage and dependency latency, which
// read ReplicaSets, StatefulSets and Pods through the factory. Call it
// before the factory starts.
func (pl *NetworkLatency) WithWorkloads(f informers.SharedInformerFactory) *NetworkLatency {
	pl.workloads = coverage.NewWorkloads(f)
	pl.pods = f.Core().V1().Pods().Lister()
	return pl
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
	_, demand := pod.Annotations[intent.DemandAnnotation]
	_, profile := pod.Annotations[v1alpha1.ProfileAnnotation]
	_, dependency := pod.Annotations[intent.DependsOnAnnotation]
	if demand || profile || dependency {
		return nil, fwk.NewStatus(fwk.Unschedulable, "pods with a network intent are ranked against the nodes still feasible, which earlier placements change")
	}
	return nil, nil
}

// intentOf resolves the pod's intent with the args' options and the
// current map's LatencyProfiles: PreFilter and every queueing hint read
// it so.
func (pl *NetworkLatency) intentOf(pod *v1.Pod) (*intent.Intent, error) {
	return intent.ForPod(pod, pl.netmap.Current().Profile, pl.parse)
}
