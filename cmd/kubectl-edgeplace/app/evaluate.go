package app

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/cmd/kubectl-edgeplace/evaluate"
	"github.com/edgeplace/edgeplace/pkg/intent"
)

type evaluateOptions struct {
	rtt      []string
	format   evaluate.Format
	scenario evaluate.Scenario
	output   string
	exclude  []string
	sites    string
	siteCols evaluate.SiteColumns
	egress   string
	plot     string
}

func newEvaluateCommand() *cobra.Command {
	o := evaluateOptions{
		format:   evaluate.Format{Columns: evaluate.Columns{From: "from", To: "to", RTT: "rtt_ms"}, Unit: "ms", Missing: "0", SelfRTT: "min"},
		scenario: evaluate.Scenario{NodesPerSite: 2, SiteFraction: 0.5, Pods: 200, LandmarksPerWorkload: 12, Workloads: 10, Seed: 1},
		output:   "text",
		siteCols: evaluate.SiteColumns{ID: "id", Lat: "lat", Lon: "lon"},
	}
	cmd := &cobra.Command{
		Use:   "evaluate --rtt FILE [--rtt FILE...]",
		Short: "Compare edgeplace's placements with the stock scheduler's and the optimum on a measured RTT matrix, no cluster needed",
		Long: `evaluate turns an RTT matrix into edge sites and user populations: every place
is a population, a share of them (--site-fraction) also hosts an edge site of
--nodes-per-site nodes. Places whose RTT to some other place is unknown are
dropped until every pair left is known; a pair known one way is used both
ways, and a place without an RTT to itself (the diagonal most published
matrices leave out) gets --self-rtt's. The real kube-scheduler then places
pods with the shipped edgeplace profile and, on the same nodes, with the
stock default profile; the optimum is exact for single pods and for replicas
where the site subsets can be enumerated, otherwise a Lagrangian lower bound.

--rtt reads CSV with a header (--from-col, --to-col, --rtt-col, and
--slice-col for time slices), a JSON object of objects, or a square matrix:
N lines of N numbers, line i measured from place i to each place j (places
are named by their index). Pairs are kept one way each: line i, value j is
what a node at i sees of users at j. Several --rtt files are time slices of
the same places: each pair's median over them is used, or --slice's.`,
		Example: `  kubectl edgeplace evaluate --rtt pings.csv.gz --from-col src --to-col dst --rtt-col rtt_ms
  kubectl edgeplace evaluate --rtt matrix.json --mask 0.3 --replicas 3 --output json
  kubectl edgeplace evaluate --rtt slice1.txt --rtt slice2.txt --unit s --missing -1
  kubectl edgeplace evaluate --rtt matrix.json --sites sites.csv --price-col usd_per_mbps --egress 200M --plot placements.png`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.rtt, "rtt", nil, "RTT table: CSV with a header, a JSON object of objects or a square matrix (gzip accepted); repeat for time slices")
	f.StringVar(&o.format.From, "from-col", o.format.From, "CSV column naming the place measured from (where the node is)")
	f.StringVar(&o.format.To, "to-col", o.format.To, "CSV column naming the place measured to (where the users are)")
	f.StringVar(&o.format.RTT, "rtt-col", o.format.RTT, "CSV column with the RTT")
	f.StringVar(&o.format.SliceColumn, "slice-col", "", "CSV column numbering time slices (each pair's median over them is used)")
	f.StringVar(&o.format.Slice, "slice", "", "use this one time slice (a --slice-col value, or a file's position from 1) instead of the median")
	f.StringVar(&o.format.Unit, "unit", o.format.Unit, "unit of the RTTs: ms or s")
	f.StringVar(&o.format.Missing, "missing", o.format.Missing, "how a square matrix marks an unknown entry: 0, -1 or NaN (NaN always is)")
	f.StringVar(&o.format.SelfRTT, "self-rtt", o.format.SelfRTT, "RTT a place without its own pair gets to its own users: min (the smallest measured from it) or milliseconds")
	f.IntVar(&o.scenario.NodesPerSite, "nodes-per-site", o.scenario.NodesPerSite, "nodes at each edge site")
	f.Float64Var(&o.scenario.SiteFraction, "site-fraction", o.scenario.SiteFraction, "share of the places that host an edge site")
	f.IntVar(&o.scenario.Pods, "pods", o.scenario.Pods, "single pods, each serving one random population")
	f.IntVar(&o.scenario.Replicas, "replicas", 0, "replicas per workload (2 or more adds the replica comparison)")
	f.IntVar(&o.scenario.Workloads, "workloads", o.scenario.Workloads, "workloads of --replicas replicas")
	f.IntVar(&o.scenario.LandmarksPerWorkload, "workload-landmarks", o.scenario.LandmarksPerWorkload, "populations each workload serves")
	f.DurationVar(&o.scenario.SLO, "slo", 0, "p90 RTT bound of the single pods (0: none)")
	f.Float64Var(&o.scenario.Mask, "mask", 0, "share of site-to-population pairs hidden from the scheduler (scored on the full truth)")
	f.Uint64Var(&o.scenario.Seed, "seed", o.scenario.Seed, "random seed")
	f.BoolVar(&o.scenario.Repeatable, "repeatable", false, "the same figures on every run: evaluate every node with one worker, so that ties between equal nodes always fall the same way (the shipped profile breaks them in no fixed order)")
	f.StringSliceVar(&o.exclude, "exclude", nil, "places to leave out (for example a bucket of unknown locations)")
	f.StringVar(&o.output, "output", o.output, "text or json")
	f.StringVar(&o.sites, "sites", "", "site metadata: CSV with a header (gzip accepted), one row per place")
	f.StringVar(&o.siteCols.ID, "site-id-col", o.siteCols.ID, "--sites column with the place name, as in the RTT table")
	f.StringVar(&o.siteCols.Lat, "lat-col", o.siteCols.Lat, "--sites column with the latitude (\"\" with --lon-col \"\": none)")
	f.StringVar(&o.siteCols.Lon, "lon-col", o.siteCols.Lon, "--sites column with the longitude")
	f.StringVar(&o.siteCols.Price, "price-col", "", "--sites column with the monthly price of one Mbps of egress at the site")
	f.Float64Var(&o.scenario.DefaultPrice, "default-price", 1, "price per Mbps of sites without one")
	f.StringVar(&o.egress, "egress", "", "sustained egress of each single pod, such as 200M: edgeplace then weighs bandwidth cost, and placements are costed")
	f.StringVar(&o.plot, "plot", "", "write a PNG of where single pods went (needs --sites with locations)")
	return cmd
}

func (o *evaluateOptions) run(cmd *cobra.Command, out io.Writer) error {
	if len(o.rtt) == 0 {
		return fmt.Errorf("--rtt: required")
	}
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output: invalid value %q: want text or json", o.output)
	}
	var tables []io.Reader
	for _, path := range o.rtt {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--rtt: %w", err)
		}
		defer file.Close()
		tables = append(tables, file)
	}
	m, stats, err := evaluate.LoadSlices(tables, o.format)
	if err != nil {
		return fmt.Errorf("--rtt %s: %w", strings.Join(o.rtt, ", "), err)
	}
	if len(o.exclude) > 0 {
		if m, err = m.Without(o.exclude...); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	if o.sites != "" {
		file, err := os.Open(o.sites)
		if err != nil {
			return fmt.Errorf("--sites: %w", err)
		}
		defer file.Close()
		if o.scenario.Sites, err = evaluate.LoadSites(file, o.siteCols); err != nil {
			return fmt.Errorf("--sites %s: %w", o.sites, err)
		}
	} else if o.plot != "" {
		return fmt.Errorf("--plot: needs --sites with each place's location")
	}
	if o.egress != "" {
		if o.scenario.EgressMbps, err = intent.ParseMbps(o.egress); err != nil {
			return fmt.Errorf("--egress: invalid value %q: %w", o.egress, err)
		}
	}
	if o.scenario.DefaultPrice < 0 || math.IsNaN(o.scenario.DefaultPrice) || math.IsInf(o.scenario.DefaultPrice, 0) {
		return fmt.Errorf("--default-price: invalid value %g: want a price of 0 or more", o.scenario.DefaultPrice)
	}
	// The schedulers inside log for operators of a cluster (such as the
	// CRDs not being installed), which says nothing about an evaluation.
	// Their loggers come from the context only with contextual logging on.
	klog.EnableContextualLogging(true)
	ctx := klog.NewContext(cmd.Context(), logr.Discard())
	res, err := evaluate.Run(ctx, m, o.scenario)
	if err != nil {
		return err
	}
	if o.plot != "" {
		if err := res.Plot(m, o.scenario.Sites, o.plot); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(out, "%s (%s): %d values", strings.Join(o.rtt, ", "), stats.Format, stats.Values)
	if stats.Slices > 1 {
		fmt.Fprintf(out, " in %d time slices", stats.Slices)
	}
	fmt.Fprintf(out, " (%d duplicates averaged, %d pairs mirrored, %d unknown); %d places with every pair known, %d edge sites, %d nodes\n",
		stats.Duplicates, stats.Mirrored, stats.Missing, res.Places, res.Sites, res.Nodes)
	if stats.SelfFilled > 0 {
		fmt.Fprintf(out, "%d places had no RTT to their own users; each got %s\n", stats.SelfFilled, stats.SelfRule)
	}
	for _, w := range stats.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	if res.Pods > 0 {
		fmt.Fprintf(out, "\n%d single pods", res.Pods)
		if o.scenario.SLO > 0 {
			fmt.Fprintf(out, ", SLO %s, which no node meets for %d of them", o.scenario.SLO, res.Infeasible)
		}
		fmt.Fprintf(out, "; RTT over the %d that both profiles placed:\n", res.Compared)
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		costed := o.scenario.EgressMbps > 0
		header := "\tmean RTT\tp90 RTT\twithin 1ms of optimum\tSLO violations\tunplaced\t"
		if costed {
			header += "egress cost/month\t"
		}
		fmt.Fprintln(tw, header)
		for _, row := range []struct {
			name string
			q    evaluate.Quality
		}{{"edgeplace", res.Edgeplace}, {"stock", res.Stock}, {"optimum", res.Optimal}} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%d\t%d\t", row.name, ms(row.q.MeanRTTms), ms(row.q.P90RTTms),
				100*row.q.Within1msOfOptimal, row.q.SLOViolations, row.q.Unplaced)
			if costed {
				fmt.Fprintf(tw, "%.0f\t", row.q.Cost)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		if gap := res.Stock.MeanRTTms - res.Optimal.MeanRTTms; gap > 0 {
			fmt.Fprintf(out, "edgeplace closes %.1f%% of the gap between stock and the optimum\n",
				100*(res.Stock.MeanRTTms-res.Edgeplace.MeanRTTms)/gap)
		}
	}
	if r := res.Replicas; r != nil {
		bound := "exact"
		if !r.Exact {
			bound = "lower bound"
		}
		fmt.Fprintf(out, "\n%d workloads of %d replicas, mean RTT from each population to its nearest replica:\n", r.Workloads, r.K)
		fmt.Fprintf(out, "  edgeplace %s   stock %s   optimum %s (%s)\n", ms(r.Edgeplace), ms(r.Stock), ms(r.Optimal), bound)
	}
	if e := res.Estimation; e != nil {
		fmt.Fprintf(out, "\nmasked %d pairs; the scheduler estimated %d of them, median relative error %.1f%%\n",
			e.Masked, e.Estimated, 100*e.MedianRelError)
		fmt.Fprintf(out, "among each population's %d nearest sites, median relative error %.1f%% (%d masked pairs); nearest site right to within 1 ms for %.1f%% of populations\n",
			evaluate.NearSites, 100*e.NearRelError, e.NearMasked, 100*e.NearestHit)
	}
	return nil
}

func ms(v float64) string {
	return (time.Duration(v * float64(time.Millisecond))).Round(100 * time.Microsecond).String()
}
