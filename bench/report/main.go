// Command report turns benchmark output into bench/results: a Markdown
// summary with the ratios the targets are stated in, and plots.
//
//	go run ./bench/report -bench bench/results/bench.txt -e2e bench/results/e2e -out bench/results
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	benchFile := flag.String("bench", "", "go test -bench output of ./bench (several files: comma-separated)")
	e2eDir := flag.String("e2e", "", "scheduler_perf data-items directory of ./bench/e2e")
	outDir := flag.String("out", "bench/results", "where to write summary and plots")
	flag.Parse()
	if err := run(*benchFile, *e2eDir, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(benchFile, e2eDir, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	if benchFile != "" {
		r := results{}
		for _, file := range strings.Split(benchFile, ",") {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			more, err := parseBench(f)
			f.Close()
			if err != nil {
				return err
			}
			for name, metrics := range more {
				if r[name] == nil {
					r[name] = map[string][]float64{}
				}
				for unit, values := range metrics {
					r[name][unit] = append(r[name][unit], values...)
				}
			}
		}
		hotPath(&md, r)
		cycle(&md, r)
		netmapTables(&md, r)
		if err := plotHotPath(r, filepath.Join(outDir, "hotpath.png")); err != nil {
			return err
		}
		if err := plotCycle(r, filepath.Join(outDir, "cycle.png")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, "summary-bench.md"), []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	if e2eDir != "" {
		runs, err := parseE2E(e2eDir)
		if err != nil {
			return err
		}
		var e2e strings.Builder
		e2eTable(&e2e, runs)
		if err := plotE2E(runs, filepath.Join(outDir, "e2e.png")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, "summary-e2e.md"), []byte(e2e.String()), 0o644); err != nil {
			return err
		}
		md.WriteString(e2e.String())
	}
	_, err := io.WriteString(os.Stdout, md.String())
	return err
}

// sizes returns the node counts benchmarks ran at, ascending.
func sizes(r results, prefix string) []int {
	seen := map[int]bool{}
	for name := range r {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, part := range strings.Split(name, "/") {
			if v, ok := strings.CutPrefix(part, "nodes="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					seen[n] = true
				}
			}
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var hotPathSeries = []struct{ label, suffix string }{
	{"NetworkLatency, no SLO", "plugin=NetworkLatency/slo=none"},
	{"NetworkLatency, 40ms SLO", "plugin=NetworkLatency/slo=40ms"},
	{"NetworkLatency, 40ms SLO, burst", "plugin=NetworkLatency/slo=40ms/burst"},
	{"NetworkLatency, 2 of 4 replicas placed", "plugin=NetworkLatency/replicas=2of4"},
	{"Locality", "plugin=Locality"},
	{"BandwidthCost, 50M egress", "plugin=BandwidthCost/egress=50M"},
	{"TaintToleration, same candidates", "plugin=TaintToleration/nodes=candidates"},
	{"NodeAffinity, same candidates", "plugin=NodeAffinity/nodes=candidates"},
	{"NodeResourcesFit, same candidates", "plugin=NodeResourcesFit/nodes=candidates"},
}

// ours are the hotPathSeries of edgeplace's plugins.
var ours = 6

func hotPath(md *strings.Builder, r results) {
	md.WriteString("## Hot path: Filter, Score and NormalizeScore per node evaluated (ns/evaluated, median)\n\n")
	md.WriteString("| nodes | landmarks | nodes evaluated |")
	for _, s := range hotPathSeries {
		md.WriteString(" " + s.label + " |")
	}
	md.WriteString(" TaintToleration, every node (ns/node) | worst of ours / TaintToleration, every node | worst of ours / TaintToleration, same candidates |\n|---:|---:|---:|")
	for range hotPathSeries {
		md.WriteString("---:|")
	}
	md.WriteString("---:|---:|---:|\n")
	for _, n := range sizes(r, "BenchmarkHotPath") {
		for _, k := range []int{8, 64} {
			base := fmt.Sprintf("BenchmarkHotPath/nodes=%d/landmarks=%d/", n, k)
			fmt.Fprintf(md, "| %d | %d | %s |", n, k, cell(r, base+hotPathSeries[0].suffix, "evaluated", "%.0f"))
			worst, okWorst := 0.0, true
			for i, s := range hotPathSeries {
				md.WriteString(" " + cell(r, base+s.suffix, "ns/evaluated", "%.0f") + " |")
				if v, ok := r.median(base+s.suffix, "ns/evaluated"); i < ours && ok {
					worst = max(worst, v)
				} else if i < ours {
					okWorst = false
				}
			}
			all, okAll := r.median(base+"plugin=TaintToleration", "ns/node")
			same, okSame := r.median(base+"plugin=TaintToleration/nodes=candidates", "ns/evaluated")
			md.WriteString(" " + cell(r, base+"plugin=TaintToleration", "ns/node", "%.0f") + " |")
			for _, tt := range []struct {
				v  float64
				ok bool
			}{{all, okAll}, {same, okSame}} {
				if tt.ok && okWorst {
					fmt.Fprintf(md, " %.2fx |", worst/tt.v)
				} else {
					md.WriteString(" - |")
				}
			}
			md.WriteString("\n")
		}
	}
	md.WriteString("\n## Hot path: PreFilter and PreScore per pod (us, median)\n\n")
	md.WriteString("| nodes | landmarks |")
	for _, s := range hotPathSeries[:ours] {
		md.WriteString(" " + s.label + " |")
	}
	md.WriteString(" NetworkLatency allocs/op (no SLO, SLO) |\n|---:|---:|")
	for range hotPathSeries[:ours] {
		md.WriteString("---:|")
	}
	md.WriteString("---:|\n")
	for _, n := range sizes(r, "BenchmarkHotPath") {
		for _, k := range []int{8, 64} {
			base := fmt.Sprintf("BenchmarkHotPath/nodes=%d/landmarks=%d/", n, k)
			fmt.Fprintf(md, "| %d | %d |", n, k)
			for _, s := range hotPathSeries[:ours] {
				if v, ok := r.median(base+s.suffix, "prefilter-ns"); ok {
					fmt.Fprintf(md, " %.0f |", v/1000)
				} else {
					md.WriteString(" - |")
				}
			}
			fmt.Fprintf(md, " %s, %s |\n", cell(r, base+hotPathSeries[0].suffix, "allocs/op", "%.0f"),
				cell(r, base+hotPathSeries[1].suffix, "allocs/op", "%.0f"))
		}
	}
	md.WriteString("\n## Pruning against full evaluation, and weights (median)\n\n| benchmark | agree-% | nodes evaluated, pruned | nodes evaluated, full |\n|---|---:|---:|---:|\n")
	for _, n := range sizes(r, "BenchmarkPruning") {
		name := fmt.Sprintf("BenchmarkPruning/nodes=%d", n)
		fmt.Fprintf(md, "| %s | %s | %s | %s |\n", name, cell(r, name, "agree-%", "%.1f"),
			cell(r, name, "evaluated-pruned", "%.0f"), cell(r, name, "evaluated-full", "%.0f"))
	}
	md.WriteString("\n| weight | within 1 ms of the best | mean excess RTT (us) | chosen nodes' CPU load |\n|---:|---:|---:|---:|\n")
	for _, w := range []int{1, 2, 5, 10, 20} {
		name := fmt.Sprintf("BenchmarkWeights/networklatency-weight=%d", w)
		fmt.Fprintf(md, "| %d | %s%% | %s | %s%% |\n", w, cell(r, name, "within1ms-%", "%.1f"),
			cell(r, name, "regret-us", "%.0f"), cell(r, name, "load-%", "%.0f"))
	}
	md.WriteString("\n")
}

func cycle(md *strings.Builder, r results) {
	md.WriteString("## Cycle: one pod through the real scheduler's SchedulePod, shipped profile (median)\n\n")
	md.WriteString("| nodes | no-op in edgeplace's places | edgeplace, no SLO | ratio | edgeplace, 40ms SLO | ratio | nodes evaluated with SLO |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes(r, "BenchmarkCycle") {
		base := fmt.Sprintf("BenchmarkCycle/nodes=%d/", n)
		noop, ok0 := r.median(base+"profile=noop/slo=none", "ns/op")
		none, ok1 := r.median(base+"profile=edgeplace/slo=none", "ns/op")
		slo, ok2 := r.median(base+"profile=edgeplace/slo=40ms", "ns/op")
		ratio := func(v float64, ok bool) string {
			if !ok || !ok0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", v/noop)
		}
		fmt.Fprintf(md, "| %d | %s | %s | %s | %s | %s | %s |\n", n, ms(noop, ok0), ms(none, ok1), ratio(none, ok1),
			ms(slo, ok2), ratio(slo, ok2), cell(r, base+"profile=edgeplace/slo=40ms", "evaluated", "%.0f"))
	}
	md.WriteString("\n")
}

func netmapTables(md *strings.Builder, r results) {
	md.WriteString("## Network map (64 landmarks, median)\n\n")
	md.WriteString("| nodes | one NodeNetwork update | B/op | build, per-node objects | map bytes per node x landmark | build, per-site objects | map bytes per node x landmark |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes(r, "BenchmarkMapBuild") {
		upd := fmt.Sprintf("BenchmarkMapUpdate/nodes=%d/landmarks=64", n)
		perNode := fmt.Sprintf("BenchmarkMapBuild/nodes=%d/landmarks=64/objects=per-node", n)
		perSite := ""
		for name := range r {
			if strings.HasPrefix(name, fmt.Sprintf("BenchmarkMapBuild/nodes=%d/landmarks=64/objects=per-site", n)) {
				perSite = name
			}
		}
		u, okU := r.median(upd, "ns/op")
		b1, ok1 := r.median(perNode, "ns/op")
		b2, ok2 := r.median(perSite, "ns/op")
		fmt.Fprintf(md, "| %d | %s | %s | %s | %s | %s | %s |\n", n, ms(u, okU), cell(r, upd, "B/op", "%.0f"),
			ms(b1, ok1), cell(r, perNode, "B/node-landmark", "%.1f"), ms(b2, ok2), cell(r, perSite, "B/node-landmark", "%.1f"))
	}
	md.WriteString("\n| nodes | estimate, first run | x build | estimate, next runs | x build |\n|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes(r, "BenchmarkEstimate") {
		build, okB := r.median(fmt.Sprintf("BenchmarkMapBuild/nodes=%d/landmarks=64/objects=per-node", n), "ns/op")
		ratio := func(v float64, ok bool) string {
			if !ok || !okB {
				return "-"
			}
			return fmt.Sprintf("%.1fx", v/build)
		}
		first, ok1 := r.median(fmt.Sprintf("BenchmarkEstimate/nodes=%d/landmarks=64/run=first", n), "ns/op")
		next, ok2 := r.median(fmt.Sprintf("BenchmarkEstimate/nodes=%d/landmarks=64/run=next", n), "ns/op")
		fmt.Fprintf(md, "| %d | %s | %s | %s | %s |\n", n, ms(first, ok1), ratio(first, ok1), ms(next, ok2), ratio(next, ok2))
	}
	md.WriteString("\n| objects benchmark | objects | JSON MiB (API server) | MiB decoded (informer) |\n|---|---:|---:|---:|\n")
	var names []string
	for name := range r {
		if strings.HasPrefix(name, "BenchmarkObjects/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(md, "| %s | %s | %s | %s |\n", strings.TrimPrefix(name, "BenchmarkObjects/"),
			cell(r, name, "objects", "%.0f"), cell(r, name, "MiB-json", "%.1f"), cell(r, name, "MiB-informer", "%.1f"))
	}
	md.WriteString("\n")
}

var e2eCases = []string{"Stock", "EdgeplaceNoSLO", "EdgeplaceSLO", "StockFilling", "EdgeplaceFilling"}

// yardstick is the stock case each case's throughput is a ratio to: the
// filling pods are compared with the same pods under the stock profile.
func yardstick(tc string) string {
	if strings.HasSuffix(tc, "Filling") {
		return "StockFilling"
	}
	return "Stock"
}

func e2eTable(md *strings.Builder, runs map[string]*e2eRun) {
	md.WriteString("## End to end: scheduler_perf, pods/s\n\n")
	md.WriteString("| workload | profile | pods/s avg | p50 | p90 | ratio to stock, same pods (avg) | p99 attempt latency | batching hit rate |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	var workloads []string
	for key := range runs {
		_, w, _ := strings.Cut(key, "/")
		if !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
		}
	}
	slices.SortFunc(workloads, func(a, b string) int { return nodesOf(a) - nodesOf(b) })
	for _, w := range workloads {
		for _, tc := range e2eCases {
			stock := runs[yardstick(tc)+"/"+w]
			run := runs[tc+"/"+w]
			if run == nil {
				continue
			}
			ratio := "-"
			if stock != nil && stock.throughput["Average"] > 0 && run.throughput["Average"] > 0 {
				ratio = fmt.Sprintf("%.2fx", run.throughput["Average"]/stock.throughput["Average"])
			}
			fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", w, tc,
				num(run.throughput, "Average"), num(run.throughput, "Perc50"), num(run.throughput, "Perc90"),
				ratio, latency(run.latencyMs), hitRate(run.batches))
		}
	}
	md.WriteString("\n")
}

func nodesOf(workload string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(workload, "Nodes"))
	return n
}

func hitRate(b map[string]float64) string {
	total := b["no_hint"] + b["hint_used"] + b["hint_not_used"]
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%% of %.0f", 100*b["hint_used"]/total, total)
}

func latency(m map[string]float64) string {
	if v, ok := m["Perc99"]; ok {
		return fmt.Sprintf("%.0f ms", v)
	}
	return "-"
}

func num(m map[string]float64, key string) string {
	if v, ok := m[key]; ok {
		return fmt.Sprintf("%.0f", v)
	}
	return "-"
}

func cell(r results, name, unit, format string) string {
	if v, ok := r.median(name, unit); ok {
		return fmt.Sprintf(format, v)
	}
	return "-"
}

func ms(ns float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", ns/1e6)
}
