package app

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

func newTopCommand(c *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "top",
		Short: "Measurement freshness and RTT per site and carrier",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.clients()
			if err != nil {
				return err
			}
			return top(cmd.Context(), cl, c.ttl, cmd.OutOrStdout())
		},
	}
}

// site is one line of top: the nodes sharing a site label (or one node
// without), read through the first node's row.
type site struct {
	name, carrier string
	nodes         []string
}

func top(ctx context.Context, c *clients, ttl time.Duration, out io.Writer) error {
	m, err := c.networkMap(ctx, ttl)
	if err != nil {
		return err
	}
	nodes, err := c.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	sites := map[string]*site{}
	for _, n := range nodes.Items {
		loc := topology.FromLabels(n.Labels)
		key := loc.Site
		if key == "" {
			key = n.Name
		}
		s, ok := sites[key]
		if !ok {
			s = &site{name: key, carrier: loc.Carrier}
			sites[key] = s
		}
		s.nodes = append(s.nodes, n.Name)
	}
	now := time.Now()
	view := m.Current().View(now, ttl)
	fmt.Fprintf(out, "%d nodes in %d sites, %d landmarks; measurements older than %s are stale\n\n",
		len(nodes.Items), len(sites), view.NumLandmarks(), ttl)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tCARRIER\tNODES\tMEASURED\tESTIMATED\tSTALE\tSUSPECT\tNEWEST\tOLDEST\tMEDIAN RTT p50\tMAX LOSS\tMEDIAN JITTER\tNEAREST LANDMARK")
	for _, s := range slices.SortedFunc(maps.Values(sites), func(a, b *site) int { return cmp.Compare(a.name, b.name) }) {
		carrier := s.carrier
		if carrier == "" {
			carrier = "-"
		}
		row, ok := view.Row(s.nodes[0])
		if !ok {
			fmt.Fprintf(tw, "%s\t%s\t%d\t0\t0\t0\t0\t-\t-\t-\t-\t-\t-\n", s.name, carrier, len(s.nodes))
			continue
		}
		// A suspect entry reads as unmeasured (estimated, when its peers'
		// estimate stands in) and is counted as suspect besides.
		var measured, estimated, stale, suspect int
		var newest, oldest time.Time
		var rtts, jitters []float64
		maxLoss := int32(-1)
		nearest, nearestRTT := "-", int32(-1)
		for lm := range int32(view.NumLandmarks()) {
			if _, held := view.Suspect(row, lm); held {
				suspect++
			}
			rtt, src, ok := view.Value(row, lm, netmap.P50, netmap.AnyEstimate)
			switch {
			case ok && src == netmap.Measured:
				measured++
				at := view.Observed(row, lm)
				if newest.IsZero() || at.After(newest) {
					newest = at
				}
				if oldest.IsZero() || at.Before(oldest) {
					oldest = at
				}
				rtts = append(rtts, float64(rtt))
				if loss, jitter, ok := view.Quality(row, lm); ok {
					maxLoss = max(maxLoss, loss)
					jitters = append(jitters, float64(jitter))
				}
				if nearestRTT < 0 || rtt < nearestRTT {
					nearest, nearestRTT = view.LandmarkName(lm), rtt
				}
			case ok:
				estimated++
			case !view.Observed(row, lm).IsZero():
				stale++
			}
		}
		med := "-"
		if v, ok := estimate.Median(rtts); ok {
			med = micros(int32(v))
		}
		jitter := "-"
		if v, ok := estimate.Median(jitters); ok {
			jitter = jitterOf(int32(v))
		}
		if nearestRTT >= 0 {
			nearest = fmt.Sprintf("%s %s", nearest, micros(nearestRTT))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.name, carrier, len(s.nodes),
			measured, estimated, stale, suspect, ago(now, newest), ago(now, oldest), med, lossPercent(maxLoss), jitter, nearest)
	}
	return tw.Flush()
}

// lossPercent formats a loss in parts per million ("-": none known).
func lossPercent(ppm int32) string {
	if ppm < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", float64(ppm)/1e4)
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}
