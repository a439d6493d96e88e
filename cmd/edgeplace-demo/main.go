// Command edgeplace-demo runs edgeplace end to end on one machine (see
// app): an embedded control plane, an ENS-style topology, the real
// edgeplace-scheduler binary with the shipped configuration, sample
// workloads, and the same workloads placed again by the stock profile. It
// prints both placements side by side and writes a chart; then a site
// degrades and edgeplace-descheduler moves the replica there.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/edgeplace/edgeplace/cmd/edgeplace-demo/app"
	"github.com/edgeplace/edgeplace/pkg/version"
)

func main() {
	scheduler := flag.String("scheduler", "bin/edgeplace-scheduler", "path of the edgeplace-scheduler binary")
	descheduler := flag.String("descheduler", "bin/edgeplace-descheduler", "path of the edgeplace-descheduler binary (empty: no rebalancing step)")
	nodesPerSite := flag.Int("nodes-per-site", 2, "nodes in each edge site")
	small := flag.Bool("small", false, "only the provinces the workloads serve (a quicker run)")
	plot := flag.String("plot", "_output/demo/placements.png", "where to write the placement chart (PNG); empty for none")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("edgeplace-demo", version.Get())
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *plot != "" {
		if err := os.MkdirAll(filepath.Dir(*plot), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "demo failed:", err)
			os.Exit(1)
		}
	}
	fmt.Println("The workloads:")
	for _, w := range app.Workloads {
		fmt.Printf("    %-16s %s\n", w.Name, w.What)
	}
	report, err := app.Run(ctx, app.Options{
		SchedulerBinary: *scheduler, DeschedulerBinary: *descheduler, NodesPerSite: *nodesPerSite, AllProvinces: !*small,
		Plot: *plot, Progress: os.Stdout,
		// For debugging, e.g. EDGEPLACE_SCHEDULER_ARGS=-v=4.
		SchedulerArgs: strings.Fields(os.Getenv("EDGEPLACE_SCHEDULER_ARGS")),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	report.Print(os.Stdout)
	if *plot != "" {
		fmt.Printf("\nChart of the placements: %s\n", *plot)
	}
}
