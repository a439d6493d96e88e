package main

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

type series struct {
	label string
	pts   plotter.XYs
}

// logLog draws series against nodes on log-log axes, legend top left.
func logLog(title, yLabel string, all []series, file string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = yLabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	var args []any
	for _, s := range all {
		if len(s.pts) > 0 {
			args = append(args, s.label, s.pts)
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	// Leave room above the lines for the legend.
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Max *= 6
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

// sweep collects one metric of a size-swept benchmark as points.
func sweep(r results, prefix, format, unit string, scale float64) plotter.XYs {
	var pts plotter.XYs
	for _, n := range sizes(r, prefix) {
		if v, ok := r.median(fmt.Sprintf(format, n), unit); ok {
			pts = append(pts, plotter.XY{X: float64(n), Y: v * scale})
		}
	}
	return pts
}

// plotHotPath draws ns per node evaluated against nodes at 64 landmarks:
// our plugins against the in-tree yardsticks, on the same candidates and
// (TaintToleration) on every node.
func plotHotPath(r results, file string) error {
	var all []series
	for _, s := range hotPathSeries {
		all = append(all, series{s.label, sweep(r, "BenchmarkHotPath", "BenchmarkHotPath/nodes=%d/landmarks=64/"+s.suffix, "ns/evaluated", 1)})
	}
	all = append(all, series{"TaintToleration, every node", sweep(r, "BenchmarkHotPath", "BenchmarkHotPath/nodes=%d/landmarks=64/plugin=TaintToleration", "ns/evaluated", 1)})
	return logLog("Hot path, 64 landmarks: ns per node evaluated (lower is better)", "ns/evaluated", all, file)
}

// plotCycle draws the real scheduler's time per pod against nodes.
func plotCycle(r results, file string) error {
	var all []series
	for _, s := range []struct{ label, suffix string }{
		{"no-op in edgeplace's places", "profile=noop/slo=none"},
		{"edgeplace, no SLO", "profile=edgeplace/slo=none"},
		{"edgeplace, 40ms SLO", "profile=edgeplace/slo=40ms"},
	} {
		all = append(all, series{s.label, sweep(r, "BenchmarkCycle", "BenchmarkCycle/nodes=%d/"+s.suffix, "ns/op", 1e-6)})
	}
	return logLog("Scheduling cycle, shipped profile: ms per pod", "ms/pod", all, file)
}

// plotE2E draws average pods/s per profile, grouped by cluster size.
func plotE2E(runs map[string]*e2eRun, file string) error {
	var workloads []string
	for key := range runs {
		_, w, _ := strings.Cut(key, "/")
		if !contains(workloads, w) {
			workloads = append(workloads, w)
		}
	}
	if len(workloads) == 0 {
		return nil
	}
	sortByNodes(workloads)
	p := plot.New()
	p.Title.Text = "End to end (scheduler_perf): pods scheduled per second"
	p.Y.Label.Text = "pods/s (average)"
	width := vg.Points(14)
	for i, tc := range e2eCases {
		values := make(plotter.Values, len(workloads))
		for j, w := range workloads {
			if run := runs[tc+"/"+w]; run != nil {
				values[j] = run.throughput["Average"]
			}
		}
		bars, err := plotter.NewBarChart(values, width)
		if err != nil {
			return err
		}
		bars.Color = []color.Color{color.RGBA{120, 120, 120, 255}, color.RGBA{31, 119, 180, 255}, color.RGBA{44, 160, 44, 255},
			color.RGBA{190, 190, 190, 255}, color.RGBA{214, 39, 40, 255}}[i]
		bars.LineStyle.Width = 0
		bars.Offset = (vg.Length(i) - vg.Length(len(e2eCases)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(tc, bars)
	}
	p.NominalX(workloads...)
	p.X.Min, p.X.Max = -0.8, float64(len(workloads)-1)+0.8
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Max *= 1.4
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sortByNodes(ws []string) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && nodesOf(ws[j]) < nodesOf(ws[j-1]); j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}
