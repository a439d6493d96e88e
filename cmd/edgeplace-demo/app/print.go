package app

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func printPlacements(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tSLO\tEDGEPLACE\tRTT\tSTOCK\tRTT")
	for _, wl := range r.Workloads {
		slo := wl.SLO
		if slo == "" {
			slo = "-"
		}
		fmt.Fprintf(tw, "%s\t%s", wl.Name, slo)
		for _, o := range []*Outcome{r.Edgeplace, r.Stock} {
			where, rtt := placementOf(o, wl.Name)
			fmt.Fprintf(tw, "\t%s\t%s", where, rtt)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// placementOf describes where a workload went: its sites, or why not.
func placementOf(o *Outcome, name string) (string, string) {
	nodes := o.Nodes[name]
	if len(nodes) == 0 {
		msg := o.Pending[name]
		// "0/279 nodes are available: <reason>. <more reasons>"
		if _, reason, ok := strings.Cut(msg, "are available: "); ok {
			msg = reason
		}
		if i := strings.IndexAny(msg, ";."); i > 0 {
			msg = msg[:i]
		}
		return "Pending: " + msg, "-"
	}
	var sites []string
	for _, n := range nodes {
		sites = append(sites, strings.TrimSuffix(strings.TrimPrefix(n, "edge-"), n[strings.LastIndex(n, "-"):]))
	}
	rtt := ms(o.RTT[name])
	if o.Violations[name] {
		rtt += " (SLO missed)"
	}
	return strings.Join(sites, ", "), rtt
}

func printSummary(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmean user RTT\tp90 user RTT\tSLO violations\tbandwidth cost / month\t")
	for _, o := range []*Outcome{r.Edgeplace, r.Stock} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t\n", o.Profile, ms(o.MeanRTT), ms(o.P90RTT), o.SLOViolations, o.TotalCost)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nUser RTT: p90 from each demand population to its workload's nearest replica, weighted by demand, over the workloads both placed.")
	fmt.Fprintln(w, "SLO violations: placed beyond the SLO although some site meets it. Cost: egress x the zone's price per Mbps.")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
