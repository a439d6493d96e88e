package rebalance

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/rebalance"
)

// PluginName is the plugin's name in a DeschedulerPolicy.
const PluginName = "EdgeplaceRebalance"

// Rebalance is the descheduler plugin. Each descheduling pass judges every
// running pod of the edgeplace scheduler that states a network intent and
// evicts, within the safety rules, those that have been bad for their
// grace period.
type Rebalance struct {
	args    *EdgeplaceRebalanceArgs
	handle  frameworktypes.Handle
	cluster *cluster
	parse   intent.Options
	rules   rebalance.Rules
	judgeAt netmap.Percentile
	limit   *evictionLimit
	dryRun  bool
	now     func() time.Time

	mu        sync.Mutex // one pass at a time
	tracker   *rebalance.Tracker
	history   *rebalance.History
	movesRead bool // the cooldowns of earlier leaders are in the tracker
}

var _ frameworktypes.DeschedulePlugin = &Rebalance{}

// Register adds the plugin to a descheduler plugin registry, reading the
// cluster through env.
func Register(registry pluginregistry.Registry, env *Env) {
	pluginregistry.Register(PluginName,
		func(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
			return New(ctx, args, h, env)
		},
		&Rebalance{}, &EdgeplaceRebalanceArgs{},
		func(obj runtime.Object) error { return Validate(obj.(*EdgeplaceRebalanceArgs)) },
		func(obj runtime.Object) { SetDefaults(obj.(*EdgeplaceRebalanceArgs)) },
		registry)
}

// New is the plugin's builder. The descheduler defaults and validates the
// args before it; they are checked again here for callers that do not.
func New(ctx context.Context, obj runtime.Object, h frameworktypes.Handle, env *Env) (frameworktypes.Plugin, error) {
	args, ok := obj.(*EdgeplaceRebalanceArgs)
	if !ok {
		return nil, fmt.Errorf("%s: args of type %T, want *EdgeplaceRebalanceArgs", PluginName, obj)
	}
	args = args.DeepCopy()
	SetDefaults(args)
	if err := Validate(args); err != nil {
		return nil, fmt.Errorf("%s: %w", PluginName, err)
	}
	c, err := env.cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PluginName, err)
	}
	registerMetrics()
	rules := rebalance.Rules{
		SLOGrace: args.SLOGracePeriod.Duration, GapGrace: args.GapGracePeriod.Duration,
		MinGap: args.MinGap.Duration, MinGapPercent: *args.MinGapPercent,
		HistoryMarginPercent: *args.HistoryMarginPercent,
	}
	perMinute := int(*args.MaxEvictionsPerMinute)
	return &Rebalance{
		args:    args,
		handle:  h,
		cluster: c,
		parse:   placement.DefaultOptions(),
		rules:   rules,
		judgeAt: placement.Percentile(config.Percentile(args.JudgePercentile)),
		limit:   &evictionLimit{perMinute: perMinute},
		dryRun:  env.DryRun,
		now:     time.Now,
		tracker: rebalance.NewTracker(rules, args.Cooldown.Duration),
		history: rebalance.NewHistory(args.HistoryWindow.Duration),
	}, nil
}

// evictionLimit is the cluster-wide limit: at most perMinute evictions in
// any 60 s. Only evictions the API server took count.
type evictionLimit struct {
	perMinute int
	recent    []time.Time
}

func (l *evictionLimit) allows(now time.Time) bool {
	for len(l.recent) > 0 && now.Sub(l.recent[0]) >= time.Minute {
		l.recent = l.recent[1:]
	}
	return len(l.recent) < l.perMinute
}

func (l *evictionLimit) took(now time.Time) { l.recent = append(l.recent, now) }

// Name returns the plugin's name.
func (pl *Rebalance) Name() string { return PluginName }

// Deschedule is one pass over the pods on nodes (the descheduler's ready
// nodes). Nothing is judged while the network map or the plugin's
// informers are still loading: a pass on half a map would see bad pods
// that are not.
func (pl *Rebalance) Deschedule(ctx context.Context, nodes []*v1.Node) *frameworktypes.Status {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	logger := klog.FromContext(ctx).WithValues("plugin", PluginName)
	snap := pl.cluster.netmap.Current()
	if st := snap.State(); st != netmap.Ready || !pl.cluster.synced() {
		logger.V(2).Info("skipping the pass: measurements or workloads are still loading", "map", st.String())
		return nil
	}
	now := pl.now()
	if !pl.movesRead {
		moves, err := pl.cluster.recentMoves(ctx, now.Add(-pl.args.Cooldown.Duration))
		if err != nil {
			// No pass until they are known: moving now could move a
			// workload its predecessor has just moved.
			return &frameworktypes.Status{Err: fmt.Errorf("%s: skipping the pass: reading the moves made within the cooldown: %w", PluginName, err)}
		}
		for workload, at := range moves {
			pl.tracker.Moved(workload, at)
		}
		pl.movesRead = true
		logger.Info("holding the cooldowns of earlier moves", "workloads", len(moves))
	}
	p := newPass(pl, snap, nodes, now)
	pl.tracker.Begin()
	pl.history.Begin(now)
	for _, pod := range pl.cluster.runningPods(pl.args.SchedulerName) {
		p.judge(ctx, pod)
	}
	pl.tracker.End(now)
	for _, rule := range []rebalance.Rule{rebalance.RuleSLO, rebalance.RuleGap} {
		badPods.WithLabelValues(string(rule)).Set(float64(p.bad[rule]))
	}
	logger.V(2).Info("pass done", "judged", p.judged, "violating", p.bad[rebalance.RuleSLO], "behind", p.bad[rebalance.RuleGap], "evicted", p.evicted)
	return nil
}
