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

// plotHotPath draws ns/node against nodes, log-log, at 64 landmarks: our
// plugin against the in-tree yardsticks.
func plotHotPath(r results, file string) error {
	p := plot.New()
	p.Title.Text = "Hot path, 64 landmarks: ns per node (lower is better)"
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "ns/node"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	var args []any
	for _, s := range hotPathSeries {
		var pts plotter.XYs
		for _, n := range sizes(r, "BenchmarkHotPath") {
			if v, ok := r.median(fmt.Sprintf("BenchmarkHotPath/nodes=%d/landmarks=64/%s", n, s.suffix), "ns/node"); ok {
				pts = append(pts, plotter.XY{X: float64(n), Y: v})
			}
		}
		if len(pts) > 0 {
			args = append(args, s.label, pts)
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	leaveRoomForLegend(p)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

// leaveRoomForLegend raises a log-scale plot's top so that the legend, in
// the top-left corner, stays clear of the lines.
func leaveRoomForLegend(p *plot.Plot) {
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Max *= 6
}

// plotCycle draws the real scheduler's time per pod against nodes.
func plotCycle(r results, file string) error {
	p := plot.New()
	p.Title.Text = "Scheduling cycle, shipped profile: ms per pod"
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "ms/pod"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	var args []any
	for _, s := range []struct{ label, suffix string }{
		{"no-op in NetworkLatency's place", "profile=noop/slo=none"},
		{"edgeplace, no SLO", "profile=edgeplace/slo=none"},
		{"edgeplace, 40ms SLO", "profile=edgeplace/slo=40ms"},
	} {
		var pts plotter.XYs
		for _, n := range sizes(r, "BenchmarkCycle") {
			if v, ok := r.median(fmt.Sprintf("BenchmarkCycle/nodes=%d/%s", n, s.suffix), "ns/op"); ok {
				pts = append(pts, plotter.XY{X: float64(n), Y: v / 1e6})
			}
		}
		if len(pts) > 0 {
			args = append(args, s.label, pts)
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	leaveRoomForLegend(p)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
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
	width := vg.Points(18)
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
		bars.Color = []color.Color{color.RGBA{120, 120, 120, 255}, color.RGBA{31, 119, 180, 255}, color.RGBA{44, 160, 44, 255}}[i]
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
