package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/placement"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
)

// alternatives is how many other nodes the re-simulation lists.
const alternatives = 5

func newExplainCommand(c *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "explain POD",
		Short: "Why a pod went where it went: edgeplace's view at decision time, and a re-simulation on today's measurements",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.clients()
			if err != nil {
				return err
			}
			return explain(cmd.Context(), cl, c.ttl, args[0], cmd.OutOrStdout())
		},
	}
}

func explain(ctx context.Context, c *clients, ttl time.Duration, name string, out io.Writer) error {
	pod, err := c.kube.CoreV1().Pods(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Pod %s/%s (scheduler %s)\n", pod.Namespace, pod.Name, pod.Spec.SchedulerName)
	if pod.Spec.NodeName != "" {
		fmt.Fprintf(out, "  node: %s\n", pod.Spec.NodeName)
	} else {
		reason := "no scheduling attempt reported yet"
		if _, c := podutil.GetPodCondition(&pod.Status, v1.PodScheduled); c != nil && c.Status == v1.ConditionFalse {
			reason = c.Message
		}
		fmt.Fprintf(out, "  not placed: %s\n", reason)
	}

	m, err := c.networkMap(ctx, ttl)
	if err != nil {
		return err
	}
	snap := m.Current()
	in, err := placement.IntentFor(nil, pod, snap.Profile, placement.DefaultOptions())
	if err != nil {
		fmt.Fprintf(out, "  intent: invalid: %v\n", err)
		return nil
	}
	if in == nil || (len(in.Demand) == 0 && in.DependsOn == nil) {
		fmt.Fprintln(out, "  no network intent (edgeplace.io/demand, edgeplace.io/depends-on): edgeplace's plugins did not take part")
		return nil
	}
	var demand []string
	for _, d := range in.Demand {
		demand = append(demand, fmt.Sprintf("%s:%d", d.Landmark, d.Weight))
	}
	slo := "none"
	if in.HasSLO() {
		slo = fmt.Sprintf("%s %s, estimates %s", in.MaxRTT, in.Percentile, in.Estimates)
	}
	if in.MaxLossPPM > 0 {
		slo += fmt.Sprintf("; loss at most %s", lossPercent(int32(in.MaxLossPPM)))
	}
	if in.MaxJitter > 0 {
		slo += fmt.Sprintf("; jitter at most %s", in.MaxJitter)
	}
	fmt.Fprintf(out, "  demand: %s   SLO: %s\n", strings.Join(demand, ", "), slo)
	if in.DependsOn != nil {
		bound := "none"
		if in.DependsOnMaxRTT > 0 {
			bound = in.DependsOnMaxRTT.String()
		}
		fmt.Fprintf(out, "  depends on: %s (weight %d, bound %s)\n", in.DependsOn, in.DependsOnWeight, bound)
	}

	fmt.Fprintln(out, "\nRecorded by NetworkLatency at decision time:")
	if err := printDecisions(ctx, c, pod, out); err != nil {
		return err
	}
	if err := printMoves(ctx, c, pod, out); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nRe-simulation on the measurements in the API server now (not what the scheduler saw):")
	req, err := c.request(ctx, snap.View(time.Now(), ttl), pod, in)
	var missing *placement.MissingLandmarkError
	if errors.As(err, &missing) {
		fmt.Fprintf(out, "  the scheduler would turn the pod down: %v\n", err)
		return nil
	} else if err != nil {
		return err
	}
	if pod.Spec.NodeName != "" {
		printNodeRTT(out, req, pod.Spec.NodeName)
		if nn := nodeNetworkOf(ctx, c, req.View, pod.Spec.NodeName); nn != nil {
			egress := "unknown"
			if nn.Status.EgressCapacityMbps != nil {
				egress = fmt.Sprintf("%d Mbps", *nn.Status.EgressCapacityMbps)
			}
			fmt.Fprintf(out, "  egress capacity %s, billing zone %q (from NodeNetwork %s)\n", egress, nn.Status.BillingZone, nn.Name)
		}
	}
	printBestNodes(out, req, pod.Spec.NodeName)
	return nil
}

// request is the pod's intent resolved on view as NetworkLatency's
// PreFilter resolves it, the dependency's sites from the pods in the API
// server now.
func (c *clients) request(ctx context.Context, view netmap.View, pod *v1.Pod, in *intent.Intent) (*placement.Request, error) {
	req, err := placement.Resolve(view, in)
	if err != nil {
		return nil, err
	}
	if in.DependsOn == nil {
		return &req, nil
	}
	deps, err := c.kube.CoreV1().Pods(pod.Namespace).List(ctx, metav1.ListOptions{LabelSelector: in.DependsOn.String()})
	if err != nil {
		return nil, err
	}
	req.AddDependency(placement.DependencySites(view, pod.UID, podPointers(deps.Items)))
	return &req, nil
}

func podPointers(pods []v1.Pod) []*v1.Pod {
	out := make([]*v1.Pod, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	return out
}

// printDecisions prints the decision events NetworkLatency recorded.
func printDecisions(ctx context.Context, c *clients, pod *v1.Pod, out io.Writer) error {
	sel := fields.Set{"regarding.name": pod.Name, "reason": v1alpha1.DecisionReason}.AsSelector().String()
	events, err := c.kube.EventsV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return err
	}
	found := 0
	slices.SortFunc(events.Items, func(a, b eventsv1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	for _, e := range events.Items {
		if e.Regarding.UID != pod.UID {
			continue
		}
		found++
		fmt.Fprintf(out, "  %s  %s\n", e.CreationTimestamp.UTC().Format(time.RFC3339), e.Note)
	}
	if found == 0 {
		fmt.Fprintln(out, "  nothing: the pod was not placed by an edgeplace profile, its event has expired, or the profile has recordDecisions off")
	}
	return nil
}

// printMoves prints what the rebalancer recorded about the pod and its
// workload: a pod it moved is gone, and its event relates to the workload,
// so a replacement shows why it was made. Nothing is printed where the
// rebalancer never acted.
func printMoves(ctx context.Context, c *clients, pod *v1.Pod, out io.Writer) error {
	owner := coverage.ControllerOf(pod)
	sel := fields.Set{"reason": v1alpha1.RebalanceReason}.AsSelector().String()
	events, err := c.kube.EventsV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return err
	}
	slices.SortFunc(events.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	var lines []string
	for _, e := range events.Items {
		own := e.Regarding.UID == pod.UID
		sibling := owner != nil && e.Related != nil && e.Related.UID == owner.UID
		if !own && !sibling {
			continue
		}
		switch {
		case e.Action == v1alpha1.RebalanceEvicted && !own:
			lines = append(lines, fmt.Sprintf("  %s  moved pod %s of this pod's %s %s: %s",
				eventTime(e), e.Regarding.Name, e.Related.Kind, e.Related.Name, e.Note))
		case own:
			lines = append(lines, fmt.Sprintf("  %s  %s: %s", eventTime(e), e.Action, e.Note))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(out, "\nRecorded by the rebalancer (edgeplace-descheduler):")
		fmt.Fprintln(out, strings.Join(lines, "\n"))
	}
	return nil
}

func eventTime(e eventsv1.Event) string {
	t := e.EventTime.Time
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	return t.UTC().Format(time.RFC3339)
}

func printNodeRTT(out io.Writer, req *placement.Request, node string) {
	view := req.View
	row, ok := view.Row(node)
	if !ok {
		fmt.Fprintf(out, "  node %s: not in the network map (no such node)\n", node)
		return
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  LANDMARK\tWEIGHT\tRTT %s\tLOSS\tJITTER\tSOURCE\tMEASURED\n", req.Intent.Percentile)
	now := time.Now()
	for i, lm := range req.Landmarks {
		name := view.LandmarkName(lm)
		if i >= req.DepFrom {
			name += " (dependency)"
		}
		rtt, src, ok := view.Value(row, lm, req.Percentile, netmap.AnyEstimate)
		age := "-"
		if at := view.Observed(row, lm); !at.IsZero() {
			age = now.Sub(at).Round(time.Second).String() + " ago"
		}
		if !ok {
			source := "-"
			if sus, held := view.Suspect(row, lm); held {
				source = fmt.Sprintf("suspect: published %s, %s, not trusted", micros(sus.P50), suspectAgainst(sus))
			}
			fmt.Fprintf(tw, "  %s\t%d\tunknown\t-\t-\t%s\t%s\n", name, req.Weights[i], source, age)
			continue
		}
		// Loss and jitter are measured, never estimated.
		loss, jitter := "-", "-"
		if l, j, ok := view.Quality(row, lm); ok {
			loss, jitter = lossPercent(l), jitterOf(j)
		}
		source := src.String()
		if req.Accept&src == 0 && src != netmap.Measured {
			source += " (the SLO's estimates policy refuses it)"
		}
		if sus, held := view.Suspect(row, lm); held {
			source += fmt.Sprintf(" (suspect: published %s, %s, not trusted)", micros(sus.P50), suspectAgainst(sus))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", name, req.Weights[i], micros(rtt), loss, jitter, source, age)
	}
	tw.Flush()
}

// resimulated is one node as NetworkLatency would see it on today's map.
type resimulated struct {
	node    string
	row     int32
	rtt     int32 // the score's demand-weighted RTT (us); -1 unknown
	verdict placement.Verdict
}

// resimulate is every node of the map as NetworkLatency's Filter and
// Score would see it, nearest first, unknown RTTs last.
func resimulate(req *placement.Request) []resimulated {
	view := req.View
	byRow := make([]int32, view.NumRows())
	req.Rows(byRow)
	var all []resimulated
	for row, rtt := range byRow {
		for _, n := range view.RowNodes(int32(row)) {
			all = append(all, resimulated{n, int32(row), rtt, req.Check(int32(row))})
		}
	}
	key := func(r resimulated) int64 {
		if r.rtt < 0 {
			return math.MaxInt64
		}
		return int64(r.rtt)
	}
	slices.SortFunc(all, func(a, b resimulated) int {
		return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.node, b.node))
	})
	return all
}

// printBestNodes ranks nodes by NetworkLatency's score (demand-weighted
// RTT) on today's map, with whether each passes its Filter.
func printBestNodes(out io.Writer, req *placement.Request, chosen string) {
	all := resimulate(req)
	known := 0
	for _, r := range all {
		if r.rtt >= 0 {
			known++
		}
	}
	fmt.Fprintf(out, "  best nodes by edgeplace's RTT score now (%d nodes have an RTT to every landmark):\n", known)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tWEIGHTED RTT\tWITHIN SLO\t")
	shown := 0
	for _, r := range all {
		if r.rtt < 0 && r.node != chosen {
			continue
		}
		if shown >= alternatives && r.node != chosen {
			continue
		}
		shown++
		within := "-"
		if req.HoldsRows() {
			within = verdictText[r.verdict]
		}
		rtt := "unknown"
		if r.rtt >= 0 {
			rtt = micros(r.rtt)
		}
		mark := ""
		if r.node == chosen {
			mark = "  <- chosen"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.node, rtt, within, mark)
	}
	tw.Flush()
}

var verdictText = map[placement.Verdict]string{
	placement.Meets:          "yes",
	placement.Unknown:        "no (no accepted RTT)",
	placement.OverSLO:        "no",
	placement.OverDependency: "no (dependency)",
}

// nodeNetworkOf is the NodeNetwork behind the node's row: its own, or its
// site's.
func nodeNetworkOf(ctx context.Context, c *clients, view netmap.View, node string) *v1alpha1.NodeNetwork {
	row, ok := view.Row(node)
	if !ok {
		return nil
	}
	name := view.RowObject(row)
	if name == "" {
		return nil
	}
	nn, err := c.edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return nn
}

func micros(us int32) string {
	return (time.Duration(us) * time.Microsecond).Round(100 * time.Microsecond).String()
}

// jitterOf formats a jitter; none at all reads "0µs" rather than "0s".
func jitterOf(us int32) string {
	if us < 50 {
		return fmt.Sprintf("%dµs", us)
	}
	return micros(us)
}

// suspectAgainst says in a few words what a suspect measurement was held
// to: its peers' lowest median, or the triangle through another landmark.
func suspectAgainst(s netmap.Suspect) string {
	if s.Via != "" {
		return fmt.Sprintf("triangle via %s: %s to it, %s between", s.Via, micros(s.ViaRTT), micros(s.Separation))
	}
	return "peers' lowest " + micros(s.PeersMin)
}
