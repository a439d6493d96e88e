package demo

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plotPlacements draws the sites on a longitude/latitude plane, each
// workload's users, and where each profile put its pods.
func plotPlacements(r *Report, c *cluster, file string) error {
	p := plot.New()
	p.Title.Text = "Where the pods went: edgeplace vs the stock scheduler"
	p.X.Label.Text = "longitude"
	p.Y.Label.Text = "latitude"

	var sites plotter.XYs
	for _, s := range c.ens {
		sites = append(sites, plotter.XY{X: s.Province.Lon, Y: s.Province.Lat})
	}
	users := plotter.XYs{}
	for _, w := range r.Workloads {
		demand, err := demandOf(w)
		if err != nil {
			return err
		}
		for _, u := range demand {
			users = append(users, plotter.XY{X: u.site.Province.Lon, Y: u.site.Province.Lat})
		}
	}
	layers := []struct {
		label string
		pts   plotter.XYs
		shape draw.GlyphDrawer
		color color.Color
		size  vg.Length
	}{
		{"edge sites", sites, draw.CircleGlyph{}, color.Gray{Y: 190}, 3},
		{"users (demand landmarks)", users, draw.RingGlyph{}, color.RGBA{B: 200, A: 255}, 7},
		{"edgeplace placements", placed(r.Edgeplace, r, c, 0.25), draw.TriangleGlyph{}, color.RGBA{G: 150, A: 255}, 6},
		{"stock placements", placed(r.Stock, r, c, -0.25), draw.CrossGlyph{}, color.RGBA{R: 210, A: 255}, 6},
	}
	for _, l := range layers {
		if len(l.pts) == 0 {
			continue
		}
		s, err := plotter.NewScatter(l.pts)
		if err != nil {
			return err
		}
		s.GlyphStyle.Shape, s.GlyphStyle.Color, s.GlyphStyle.Radius = l.shape, l.color, l.size/2
		p.Add(s)
		p.Legend.Add(l.label, s)
	}
	var labelled plotter.XYs
	var names []string
	atCity := map[string]int{} // labels already at a city, to stack the next one
	for _, w := range r.Workloads {
		for _, n := range r.Edgeplace.Nodes[w.Name] {
			s := c.nodeSite[n]
			k := atCity[s.Province.City]
			atCity[s.Province.City]++
			labelled = append(labelled, plotter.XY{X: s.Province.Lon + 0.4, Y: s.Province.Lat + 0.4 + 0.9*float64(k)})
			names = append(names, w.Name)
		}
	}
	if len(labelled) > 0 {
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: labelled, Labels: names})
		if err != nil {
			return err
		}
		p.Add(labels)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(9*vg.Inch, 6.5*vg.Inch, file)
}

// placed is where a profile put pods, nudged sideways so that the two
// profiles' markers at one site stay apart.
func placed(o *Outcome, r *Report, c *cluster, nudge float64) plotter.XYs {
	var out plotter.XYs
	for _, w := range r.Workloads {
		for _, n := range o.Nodes[w.Name] {
			s := c.nodeSite[n]
			out = append(out, plotter.XY{X: s.Province.Lon + nudge, Y: s.Province.Lat})
		}
	}
	return out
}
