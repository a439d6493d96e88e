package rebalance

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	nodeutil "sigs.k8s.io/descheduler/pkg/descheduler/node"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	nodecandidates "github.com/edgeplace/edgeplace/pkg/candidates"
	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	"github.com/edgeplace/edgeplace/pkg/rebalance"
)

var everything = labels.Everything()

// bestRows is how many of the nearest rows that meet a pod's bounds a pass
// keeps per intent: where a free node for a pod that is moved is looked
// for. nearestPerLandmark is how many rows per landmark it looks at.
const (
	bestRows           = 16
	nearestPerLandmark = 32
)

// pass is one Deschedule call: the view it judges on and what it works out
// once for all pods of the same intent.
type pass struct {
	pl    *Rebalance
	snap  *netmap.Snapshot
	view  netmap.View
	nodes map[string]*v1.Node
	now   time.Time
	best  map[string][]placement.Ranked // by intent key
	noted map[string]bool               // intents whose candidate rows the history has for this pass
	// targeted holds the nodes this pass's evictions expect their
	// replacements on: NodeFit sees them free until the replacements land.
	targeted map[string]bool

	judged, alone, evicted int // alone: replicas whose siblings are nearer to all their users
	bad                    map[rebalance.Rule]int
}

func newPass(pl *Rebalance, snap *netmap.Snapshot, nodes []*v1.Node, now time.Time) *pass {
	p := &pass{
		pl: pl, snap: snap, view: snap.View(now, pl.args.MeasurementTTL.Duration), now: now,
		nodes: make(map[string]*v1.Node, len(nodes)), best: map[string][]placement.Ranked{},
		noted: map[string]bool{}, targeted: map[string]bool{}, bad: map[rebalance.Rule]int{},
	}
	for _, n := range nodes {
		p.nodes[n.Name] = n
	}
	return p
}

// workload is a pod's controller with what the safety rules read of it.
type workload struct {
	ref      *metav1.OwnerReference
	object   runtime.Object // for events; nil when the controller is not found
	replicas int32          // desired
	pods     []*v1.Pod      // the pod included
}

// judge holds one pod to the rules and moves it when they say so and the
// safety rules allow.
func (p *pass) judge(ctx context.Context, pod *v1.Pod) {
	in, err := placement.IntentFor(nil, pod, p.snap.Profile, p.pl.parse)
	if err != nil || in == nil || len(in.Demand) == 0 {
		return // the scheduler already reported a bad intent; nothing to hold it to
	}
	req, err := placement.Resolve(p.view, in)
	if err != nil {
		return
	}
	req.Accept = 0 // measurements only: estimates never move a pod
	row, ok := p.view.Row(pod.Spec.NodeName)
	if !ok {
		return
	}
	w := p.workload(pod)
	var siblings []int32
	if w != nil {
		for _, s := range w.pods {
			if r, ok := p.view.Row(s.Spec.NodeName); ok && s.UID != pod.UID && s.DeletionTimestamp == nil {
				siblings = append(siblings, r)
			}
		}
	}
	// The history keeps the whole demand, from the pod's row and the rows
	// it could move to, at the percentile it is judged on.
	whole := req
	whole.Percentile = min(req.Percentile, p.pl.judgeAt)
	p.noteHistory(&whole, row)
	if w != nil && len(req.Demand()) > 1 {
		// Judged on the users it serves; one that serves none (a sibling
		// is nearer to all of them, as after its own site degraded) is
		// judged on the whole demand, so that it can still be moved back.
		if served, n := rebalance.Served(&req, row, siblings); n > 0 {
			req.Narrow(func(i int) bool { return served[i] })
		} else {
			p.alone++
		}
	}
	if in.DependsOn != nil {
		deps, _ := p.pl.cluster.pods.Pods(pod.Namespace).List(in.DependsOn)
		req.AddDependency(placement.DependencySites(p.view, pod.UID, deps))
	}
	p.judged++
	// Judged on the args' percentile of the windows; moved only to rows
	// that meet the pod's bounds on its own, as the scheduler holds them.
	judged := req
	judged.Percentile = min(req.Percentile, p.pl.judgeAt)
	f := p.pl.rules.Judge(&judged, row, p.bestFor(&judged))
	if f.Violation != placement.Meets {
		p.bad[rebalance.RuleSLO]++
	} else if f.Behind {
		p.bad[rebalance.RuleGap]++
	}
	rule, badFor := p.pl.tracker.Observe(pod.UID, f, p.now)
	if rule == "" {
		return
	}
	candidates.WithLabelValues(string(rule)).Inc()
	m := move{pod: pod, w: w, f: f, rule: rule, badFor: badFor, req: &judged}
	if reason, why := p.unsafe(&m); reason != "" {
		p.skip(ctx, &m, reason, why)
		return
	}
	if !p.target(ctx, &m, &judged, p.bestFor(&req), row) {
		p.skip(ctx, &m, skipNoFreeNode, "no node that fits the pod and meets the expected RTT is free now")
		return
	}
	if ok, why := p.confirmed(&m, &whole, row, siblings); !ok {
		p.skip(ctx, &m, skipHistory, fmt.Sprintf("node %s is ahead now, but %s", m.target, why))
		return
	}
	ev := p.pl.handle.Evictor()
	if !ev.Filter(pod) || !ev.PreEvictionFilter(pod) {
		p.skip(ctx, &m, skipEvictor, "the descheduler's evictor (DefaultEvictor args) does not allow evicting it")
		return
	}
	if !p.pl.limit.allows(p.pl.now()) {
		p.skip(ctx, &m, skipRateLimit, fmt.Sprintf("the cluster-wide limit of %d evictions a minute is reached", *p.pl.args.MaxEvictionsPerMinute))
		return
	}
	// The scheduler takes no expectation for pods with volume claims
	// (their candidates stay the volumes').
	expect := p.pl.args.PlaceReplacementOnTarget && !p.pl.dryRun && !nodecandidates.ClaimsVolumes(pod)
	if expect {
		if err := p.pl.cluster.expectReplacement(ctx, pod, m.target, p.pl.now()); err != nil {
			expect = false
			klog.FromContext(ctx).Error(err, "could not tell the scheduler where the replacement is expected; it will place it on its own view", "pod", klog.KObj(pod), "node", m.target)
		}
	}
	// The descheduler's own event takes Reason as its reason: a short word;
	// the plugin's event below has the figures.
	if err := ev.Evict(ctx, pod, evictions.EvictOptions{StrategyName: PluginName, Reason: evictReason[rule]}); err != nil {
		if expect {
			if err := p.pl.cluster.expectReplacement(ctx, pod, "", p.pl.now()); err != nil {
				klog.FromContext(ctx).Error(err, "could not remove the expected node from a pod that stays", "pod", klog.KObj(pod))
			}
		}
		p.skip(ctx, &m, skipRefused, "the eviction was refused: "+err.Error())
		return
	}
	p.targeted[m.target] = true
	p.pl.limit.took(p.pl.now())
	p.evicted++
	evictionsTotal.WithLabelValues(string(rule), fmt.Sprint(p.pl.dryRun)).Inc()
	action, verb := v1alpha1.RebalanceEvicted, "evicted"
	if p.pl.dryRun {
		action, verb = v1alpha1.RebalanceWouldEvict, "would evict (dry run)"
	}
	klog.FromContext(ctx).Info("moving a pod", "pod", klog.KObj(pod), "node", pod.Spec.NodeName, "rule", rule, "target", m.target, "dryRun", p.pl.dryRun)
	p.pl.cluster.events.Eventf(pod, w.object, v1.EventTypeNormal, v1alpha1.RebalanceReason, action, "%s", note(verb+": "+m.why()))
	// The cooldown runs from the eviction (and its event), not from the
	// start of the pass, so that no two moves of a workload are closer.
	p.pl.tracker.Moved(w.ref.UID, p.pl.now())
}

var evictReason = map[rebalance.Rule]string{rebalance.RuleSLO: "NetworkSLOViolated", rebalance.RuleGap: "NetworkBehindBestNode"}

// move is a pod the rules found bad for long enough, and where it would go.
type move struct {
	pod       *v1.Pod
	w         *workload
	f         rebalance.Finding
	rule      rebalance.Rule
	badFor    time.Duration
	req       *placement.Request
	target    string
	targetRTT int32
}

// why is the move in words: the pod's RTT, why it is bad and for how
// long, and what it expects.
func (m *move) why() string {
	var b strings.Builder
	fmt.Fprintf(&b, "on node %s the demand-weighted %s RTT is %s", m.pod.Spec.NodeName, percentile(m.req.Percentile), fmtRTT(m.f.RTT))
	switch m.rule {
	case rebalance.RuleSLO:
		fmt.Fprintf(&b, ", and %s, for %s", violation(m.f.Violation, m.req), m.badFor.Round(time.Second))
	case rebalance.RuleGap:
		fmt.Fprintf(&b, ", behind node %s's %s by more than the allowed gap, for %s",
			firstNode(m.req.View, m.f.Best.Row), fmtRTT(m.f.Best.RTT), m.badFor.Round(time.Second))
	}
	if m.target != "" {
		fmt.Fprintf(&b, "; expected %s on node %s", fmtRTT(m.targetRTT), m.target)
	}
	return b.String()
}

func violation(v placement.Verdict, req *placement.Request) string {
	switch v {
	case placement.OverSLO:
		return fmt.Sprintf("a demand landmark is beyond its %s SLO (%s)", fmtRTT(req.Bound), v1alpha1.MaxRTTAnnotation)
	case placement.OverDependency:
		return fmt.Sprintf("its dependency is beyond %s (%s)", fmtRTT(req.DepBound), v1alpha1.DependsOnMaxRTTAnnotation)
	case placement.OverLoss:
		return fmt.Sprintf("loss to a demand landmark is over %.2f%% (%s)", float64(req.LossBound)/1e4, v1alpha1.MaxLossAnnotation)
	case placement.OverJitter:
		return fmt.Sprintf("jitter to a demand landmark is over %s (%s)", fmtRTT(req.JitterBound), v1alpha1.MaxJitterAnnotation)
	}
	return "its bounds are met"
}

// note bounds an event's note to what the events API takes (1 kB).
func note(s string) string {
	if len(s) > 1000 {
		return s[:997] + "..."
	}
	return s
}

func percentile(p netmap.Percentile) string {
	if p == netmap.P50 {
		return "p50"
	}
	return "p90"
}

func firstNode(view netmap.View, row int32) string {
	if row >= 0 {
		if nodes := view.RowNodes(row); len(nodes) > 0 {
			return nodes[0]
		}
	}
	return "(none)"
}

func fmtRTT(us int32) string {
	if us < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1fms", float64(us)/1000)
}

// bestFor returns the nearest rows that meet req, once per pass for each
// intent (the pods of a workload share theirs). The rows looked at are the
// map index's nearest few to each of the request's landmarks, not every
// row: a pass then costs O(pods), whatever the number of nodes. A row that
// is best on the weighted mean while among none of those is missed, which
// can only make a pod look less behind than it is: it errs on staying.
func (p *pass) bestFor(req *placement.Request) []placement.Ranked {
	key := intentKey(req)
	if b, ok := p.best[key]; ok {
		return b
	}
	seen := map[int32]bool{}
	var b []placement.Ranked
	for _, lm := range req.Landmarks {
		for _, row := range p.view.Nearest(lm, req.Percentile, nearestPerLandmark) {
			if seen[row] {
				continue
			}
			seen[row] = true
			if rtt := req.RowRTT(row); rtt >= 0 && (!req.HoldsRows() || req.Check(row) == placement.Meets) {
				b = append(b, placement.Ranked{Row: row, RTT: rtt})
			}
		}
	}
	slices.SortFunc(b, func(x, y placement.Ranked) int { return cmp.Or(cmp.Compare(x.RTT, y.RTT), cmp.Compare(x.Row, y.Row)) })
	b = b[:min(len(b), bestRows)]
	p.best[key] = b
	return b
}

func intentKey(req *placement.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d/%d/%d/%d/%d", req.Percentile, req.Bound, req.DepBound, req.LossBound, req.JitterBound, req.DepFrom)
	for i, lm := range req.Landmarks {
		fmt.Fprintf(&b, "/%d:%d", lm, req.Weights[i])
	}
	return b.String()
}

// target finds the nearest node, among the best rows other than the pod's
// own (which meet the pod's bounds), that improves on it, as judged, by the
// rule that found it bad and that the pod
// fits on now (resources, taints, node selector and affinity, as the
// descheduler's NodeFit checks them).
func (p *pass) target(ctx context.Context, m *move, judged *placement.Request, best []placement.Ranked, own int32) bool {
	for _, b := range best {
		rtt := judged.RowRTT(b.Row)
		if b.Row == own || !p.pl.rules.Improves(m.f, rtt) {
			continue
		}
		for _, name := range p.view.RowNodes(b.Row) {
			node, ok := p.nodes[name]
			if !ok || name == m.pod.Spec.NodeName || p.targeted[name] {
				continue
			}
			if !p.antiAffinityAllows(m.pod, node) {
				continue
			}
			if err := nodeutil.NodeFit(ctx, p.pl.handle.GetPodsAssignedToNodeFunc(), m.pod, node); err == nil {
				m.target, m.targetRTT = name, rtt
				return true
			}
		}
	}
	return false
}

// noteHistory records this pass's measurements from the pod's row and from
// the rows its intent could move to: the map index's nearest to each
// landmark, whether or not they meet the pod's bounds now (history kept
// only while a row meets them would flatter it).
func (p *pass) noteHistory(whole *placement.Request, row int32) {
	demand, pct := whole.Demand(), whole.Percentile
	h := p.pl.history
	h.Note(p.view, row, demand, pct, p.snap.LandmarkName)
	key := intentKey(whole)
	if p.noted[key] {
		return
	}
	p.noted[key] = true
	for _, lm := range demand {
		for _, r := range p.view.Nearest(lm, pct, nearestPerLandmark) {
			h.Note(p.view, r, demand, pct, p.snap.LandmarkName)
		}
	}
}

// confirmed holds the move to the history: the target's row against the
// pod's on the landmarks it is judged on, and the workload's users as a
// whole, each reaching the nearest replica.
func (p *pass) confirmed(m *move, whole *placement.Request, own int32, siblings []int32) (bool, string) {
	target, ok := p.view.Row(m.target)
	if !ok {
		return false, "the target is not in the map"
	}
	objects := func(rows ...int32) []string {
		out := make([]string, 0, len(rows))
		for _, r := range rows {
			out = append(out, p.view.RowObject(r))
		}
		return out
	}
	compare := func(req *placement.Request, before, after []string) rebalance.Comparison {
		demand := req.Demand()
		names := make([]string, len(demand))
		for i, lm := range demand {
			names[i] = p.snap.LandmarkName(lm)
		}
		return p.pl.history.Compare(before, after, names, req.Weights[:len(demand)], req.Percentile, req.Bound)
	}
	pod := compare(m.req, objects(own), objects(target))
	workload := compare(whole, objects(append([]int32{own}, siblings...)...), objects(append([]int32{target}, siblings...)...))
	return p.pl.rules.Confirmed(m.rule, m.f.Violation == placement.OverSLO, pod, workload)
}

// antiAffinityAllows checks the pod's required anti-affinity across each
// term's whole topology domain, as the scheduler holds it (the
// descheduler's NodeFit looks at the node's own pods only): a workload
// spread one replica per site must not be expected on its sibling's site.
func (p *pass) antiAffinityAllows(pod *v1.Pod, node *v1.Node) bool {
	if pod.Spec.Affinity == nil || pod.Spec.Affinity.PodAntiAffinity == nil {
		return true
	}
	for _, term := range pod.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		domain, ok := node.Labels[term.TopologyKey]
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
		if err != nil {
			return false
		}
		namespaces := term.Namespaces
		if len(namespaces) == 0 {
			namespaces = []string{pod.Namespace}
		}
		for _, ns := range namespaces {
			others, _ := p.pl.cluster.pods.Pods(ns).List(sel)
			for _, o := range others {
				if o.UID == pod.UID || o.Spec.NodeName == "" || o.DeletionTimestamp != nil {
					continue
				}
				if n, ok := p.nodes[o.Spec.NodeName]; ok && n.Labels[term.TopologyKey] == domain {
					return false
				}
			}
		}
	}
	return true
}

// Reasons a pod the rules found bad stays where it is; the metric's label.
const (
	skipNotReplicated = "not-replicated"
	skipFewReplicas   = "few-replicas"
	skipUnready       = "unready-replica"
	skipCooldown      = "cooldown"
	skipNoFreeNode    = "no-free-node"
	skipEvictor       = "evictor-filter"
	skipRateLimit     = "rate-limit"
	skipRefused       = "eviction-refused"
	skipHistory       = "not-borne-out"
)

// unsafe says why moving the pod now could cost availability: the reason's
// label and its words ("" when it may move).
func (p *pass) unsafe(m *move) (string, string) {
	w := m.w
	if w == nil {
		return skipNotReplicated, "it is not a replica of a ReplicaSet or StatefulSet, so nothing would recreate it"
	}
	if min := *p.pl.args.MinReplicas; w.replicas < min {
		return skipFewReplicas, fmt.Sprintf("its %s %s wants %d replica(s); moving one needs at least %d (minReplicas)", w.ref.Kind, w.ref.Name, w.replicas, min)
	}
	ready := 0
	for _, s := range w.pods {
		switch {
		case s.DeletionTimestamp != nil:
			return skipUnready, fmt.Sprintf("pod %s of its %s is terminating", s.Name, w.ref.Kind)
		case !podReady(s):
			return skipUnready, fmt.Sprintf("pod %s of its %s is not ready", s.Name, w.ref.Kind)
		}
		ready++
	}
	if int32(ready) < w.replicas {
		return skipUnready, fmt.Sprintf("its %s %s has %d of %d replicas ready", w.ref.Kind, w.ref.Name, ready, w.replicas)
	}
	if left := p.pl.tracker.Cooling(w.ref.UID, p.now); left > 0 {
		return skipCooldown, fmt.Sprintf("its %s %s moved a pod less than %s ago (%s of its cooldown left)", w.ref.Kind, w.ref.Name, p.pl.args.Cooldown.Duration, left.Round(time.Second))
	}
	return "", ""
}

// skip leaves the pod where it is, counts why, and records it on the pod
// once per reason while the pod stays bad (each pass would otherwise add
// an event).
func (p *pass) skip(ctx context.Context, m *move, reason, why string) {
	skips.WithLabelValues(reason).Inc()
	klog.FromContext(ctx).V(2).Info("not moving a bad pod", "pod", klog.KObj(m.pod), "reason", reason, "detail", why)
	if !p.pl.tracker.Skipped(m.pod.UID, reason) {
		return
	}
	var related runtime.Object
	if m.w != nil {
		related = m.w.object
	}
	p.pl.cluster.events.Eventf(m.pod, related, v1.EventTypeWarning, v1alpha1.RebalanceReason, v1alpha1.RebalanceSkipped,
		"%s", note("not moved: "+why+"; "+m.why()))
}

// workload returns the pod's ReplicaSet or StatefulSet, nil for any other
// pod.
func (p *pass) workload(pod *v1.Pod) *workload {
	ref := coverage.ControllerOf(pod)
	if ref == nil {
		return nil
	}
	w := &workload{ref: ref, pods: p.pl.cluster.siblings(ref.UID)}
	var replicas *int32
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := p.pl.cluster.replicaSets.ReplicaSets(pod.Namespace).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return nil
		}
		replicas, w.object = rs.Spec.Replicas, withKind(rs, "ReplicaSet")
	case "StatefulSet":
		ss, err := p.pl.cluster.statefulSets.StatefulSets(pod.Namespace).Get(ref.Name)
		if err != nil || ss.UID != ref.UID {
			return nil
		}
		replicas, w.object = ss.Spec.Replicas, withKind(ss, "StatefulSet")
	default:
		return nil
	}
	w.replicas = 1
	if replicas != nil {
		w.replicas = *replicas
	}
	return w
}

// withKind returns a copy of a listed workload with its kind set, which
// informers' objects lack and an event's related reference needs.
func withKind(obj runtime.Object, kind string) runtime.Object {
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind))
	return out
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}
