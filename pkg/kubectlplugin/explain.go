package kubectlplugin

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
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
		fmt.Fprintf(out, "  not placed: %s\n", unscheduledReason(pod))
	}

	m, err := c.networkMap(ctx, ttl)
	if err != nil {
		return err
	}
	snap := m.Current()
	in, err := intent.ForPod(pod, snap.Profile, intent.Options{DefaultWeight: 1, MaxLandmarks: 64, DefaultPercentile: config.P90})
	if err != nil {
		fmt.Fprintf(out, "  intent: invalid: %v\n", err)
		return nil
	}
	if in == nil || len(in.Demand) == 0 {
		fmt.Fprintln(out, "  no network intent (edgeplace.io/demand): edgeplace's plugins did not take part")
		return nil
	}
	var demand []string
	for _, d := range in.Demand {
		demand = append(demand, fmt.Sprintf("%s:%d", d.Landmark, d.Weight))
	}
	slo := "none"
	if in.HasSLO() {
		slo = fmt.Sprintf("%s %s", in.MaxRTT, in.Percentile)
	}
	fmt.Fprintf(out, "  demand: %s   SLO: %s\n", strings.Join(demand, ", "), slo)

	fmt.Fprintln(out, "\nRecorded by NetworkLatency at decision time:")
	if err := printDecisions(ctx, c, pod, out); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nRe-simulation on the measurements in the API server now (not what the scheduler saw):")
	view := snap.View(time.Now(), ttl)
	pct := netmap.P90
	if in.Percentile == config.P50 {
		pct = netmap.P50
	}
	var lms []int32
	var weights []int64
	for _, d := range in.Demand {
		if lm, ok := view.Landmark(d.Landmark); ok {
			lms = append(lms, lm)
			weights = append(weights, d.Weight)
		} else {
			fmt.Fprintf(out, "  landmark %s: no such Landmark\n", d.Landmark)
		}
	}
	if pod.Spec.NodeName != "" {
		printNodeRTT(out, view, pod.Spec.NodeName, lms, weights, pct, in.Percentile)
		if nn := nodeNetworkOf(ctx, c, view, pod.Spec.NodeName); nn != nil {
			egress := "unknown"
			if nn.Status.EgressCapacityMbps != nil {
				egress = fmt.Sprintf("%d Mbps", *nn.Status.EgressCapacityMbps)
			}
			fmt.Fprintf(out, "  egress capacity %s, billing zone %q (from NodeNetwork %s)\n", egress, nn.Status.BillingZone, nn.Name)
		}
	}
	printBestNodes(out, view, lms, weights, pct, in, pod.Spec.NodeName)
	return nil
}

func unscheduledReason(pod *v1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
			return c.Message
		}
	}
	return "no scheduling attempt reported yet"
}

// printDecisions prints the decision events NetworkLatency recorded.
func printDecisions(ctx context.Context, c *clients, pod *v1.Pod, out io.Writer) error {
	sel := fields.Set{"regarding.name": pod.Name, "reason": networklatency.DecisionReason}.AsSelector().String()
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

func printNodeRTT(out io.Writer, view netmap.View, node string, lms []int32, weights []int64, pct netmap.Percentile, pctName config.Percentile) {
	row, ok := view.Row(node)
	if !ok {
		fmt.Fprintf(out, "  node %s: not in the network map (no such node)\n", node)
		return
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  LANDMARK\tWEIGHT\tRTT %s\tSOURCE\tMEASURED\n", pctName)
	now := time.Now()
	for i, lm := range lms {
		rtt, src, ok := view.Value(row, lm, pct, netmap.AnyEstimate)
		age := "-"
		if at := view.Observed(row, lm); !at.IsZero() {
			age = now.Sub(at).Round(time.Second).String() + " ago"
		}
		if !ok {
			fmt.Fprintf(tw, "  %s\t%d\tunknown\t-\t%s\n", view.LandmarkName(lm), weights[i], age)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", view.LandmarkName(lm), weights[i], micros(rtt), src, age)
	}
	tw.Flush()
}

// printBestNodes ranks nodes by NetworkLatency's score (demand-weighted RTT)
// on today's map, with whether each meets the SLO.
func printBestNodes(out io.Writer, view netmap.View, lms []int32, weights []int64, pct netmap.Percentile, in *intent.Intent, chosen string) {
	if len(lms) == 0 {
		return
	}
	byRow := make([]int32, view.NumRows())
	view.WeightedRTT(lms, weights, pct, netmap.AnyEstimate, byRow)
	type ranked struct {
		node string
		rtt  int32
		row  int32
	}
	var all []ranked
	for row, rtt := range byRow {
		if rtt < 0 {
			continue
		}
		for _, n := range view.RowNodes(int32(row)) {
			all = append(all, ranked{n, rtt, int32(row)})
		}
	}
	slices.SortFunc(all, func(a, b ranked) int { return cmp.Or(cmp.Compare(a.rtt, b.rtt), cmp.Compare(a.node, b.node)) })
	fmt.Fprintf(out, "  best nodes by edgeplace's RTT score now (%d nodes have an RTT to every demand landmark):\n", len(all))
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tWEIGHTED RTT\tWITHIN SLO\t")
	bound := int32(in.MaxRTT / time.Microsecond)
	for i, r := range all {
		if i >= alternatives && r.node != chosen {
			continue
		}
		within := "-"
		if in.HasSLO() {
			within = "yes"
			for _, lm := range lms {
				if v, _, ok := view.Value(r.row, lm, pct, netmap.AnyEstimate); !ok || v > bound {
					within = "no"
				}
			}
		}
		mark := ""
		if r.node == chosen {
			mark = "  <- chosen"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.node, micros(r.rtt), within, mark)
	}
	tw.Flush()
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
