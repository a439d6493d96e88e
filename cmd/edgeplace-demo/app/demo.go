// Package app runs edgeplace end to end on one machine: an embedded etcd
// and kube-apiserver with the Deployment and ReplicaSet controllers, an
// ENS-style topology of edge sites and CDN points of presence with RTT
// synthesised from geography (pkg/synthetic), the real edgeplace-scheduler
// binary with the shipped configuration, and sample workloads. The same
// workloads are then placed again by the same binary running the stock
// default profile, and both sets of bindings, read back from the API
// server, are compared. Last, a site degrades under a replicated workload
// and the real edgeplace-descheduler moves the replica there.
package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/pkg/controlplane"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

// Options configure a demo run.
type Options struct {
	// SchedulerBinary is the edgeplace-scheduler executable.
	SchedulerBinary string
	// DeschedulerBinary is the edgeplace-descheduler executable, for the
	// rebalancing step ("": the step is left out).
	DeschedulerBinary string
	// NodesPerSite ENS nodes stand at each edge site; each CDN point of
	// presence has one node.
	NodesPerSite int
	// AllProvinces builds all 31 provinces; otherwise only those the
	// workloads serve (a smaller cluster, for tests).
	AllProvinces bool
	// Workloads to place; nil means Workloads.
	Workloads []Workload
	// Plot, when set, is where the placement chart (PNG) is written.
	Plot string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// SchedulerArgs are extra flags for both scheduler runs (e.g. -v=4).
	SchedulerArgs []string
}

// Report is what each profile did with the workloads.
type Report struct {
	Sites, Nodes int
	Workloads    []Workload
	Edgeplace    *Outcome
	Stock        *Outcome
	Rebalancing  *Rebalancing // nil without a DeschedulerBinary
}

// Run runs the demo.
func Run(ctx context.Context, opts Options) (report *Report, err error) {
	if opts.Workloads == nil {
		opts.Workloads = Workloads
	}
	if opts.NodesPerSite < 1 {
		opts.NodesPerSite = 2
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	step := func(format string, args ...any) { fmt.Fprintf(progress, "==> "+format+"\n", args...) }

	dir, err := os.MkdirTemp("", "edgeplace-demo-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dir)
		} else {
			err = fmt.Errorf("%w (logs kept in %s)", err, dir)
		}
	}()
	logFile, err := os.Create(filepath.Join(dir, "controlplane.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	step("starting etcd, kube-apiserver and the Deployment/ReplicaSet controllers in this process")
	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{Log: logFile, Controllers: true})
	if err != nil {
		return nil, err
	}
	defer cp.Stop()
	fmt.Fprintf(progress, "    ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	edge := edgeclient.NewForConfigOrDie(cp.Config())

	topo := newTopology(opts)
	step("creating %d landmarks, %d edge sites x %d nodes and %d CDN points of presence, one NodeNetwork per site",
		len(topo.populations), len(topo.ens), opts.NodesPerSite, len(topo.cdn))
	if err := topo.create(ctx, kube, edge); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "    RTT model: %gms access + great-circle distance x %.1f at %.0f km/ms, +%s across carriers\n",
		float64(synthetic.AccessRTT)/1e6, synthetic.RouteFactor, synthetic.FibreKmPerMs, synthetic.CrossCarrierPenalty)

	report = &Report{Sites: len(topo.ens) + len(topo.cdn), Nodes: len(topo.nodeSite), Workloads: opts.Workloads}
	runs := []struct {
		profile, namespace, schedulerName string
		config                            []byte
		out                               **Outcome
	}{
		{"edgeplace", "edgeplace-run", "edgeplace-scheduler", demoConfig(), &report.Edgeplace},
		{"stock", "stock-run", "default-scheduler", stockConfig, &report.Stock},
	}
	for _, r := range runs {
		step("placing %d workloads with the %s profile", len(opts.Workloads), r.profile)
		o, err := place(ctx, kube, cp.KubeconfigPath(), opts, dir, r.profile, r.namespace, r.schedulerName, r.config, progress)
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", r.profile, err)
		}
		if err := o.measure(opts.Workloads, topo); err != nil {
			return nil, err
		}
		*r.out = o
	}
	summarize(report.Edgeplace, report.Stock)
	if opts.DeschedulerBinary != "" {
		step("rebalancing: a site degrades under %s, and edgeplace-descheduler moves the replica there", rebalanced.Name)
		if report.Rebalancing, err = rebalanceStep(ctx, kube, edge, cp.KubeconfigPath(), opts, dir, topo, progress); err != nil {
			return nil, fmt.Errorf("rebalancing: %w", err)
		}
	}
	if opts.Plot != "" {
		if err := plotPlacements(report, topo, opts.Plot); err != nil {
			return nil, fmt.Errorf("plotting: %w", err)
		}
	}
	return report, nil
}

// Print writes the side-by-side comparison.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%d sites, %d nodes. Where each workload went (RTT: p90 from its users to their nearest replica, demand-weighted):\n\n", r.Sites, r.Nodes)
	printPlacements(w, r)
	fmt.Fprintln(w)
	printSummary(w, r)
	if r.Rebalancing != nil {
		fmt.Fprintln(w)
		r.Rebalancing.Print(w)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
