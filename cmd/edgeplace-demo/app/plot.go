package app

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/edgeplace/edgeplace/pkg/chart"
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
	if err := chart.AddScatters(p,
		chart.Layer{Label: "edge sites", Points: sites, Shape: draw.CircleGlyph{}, Color: color.Gray{Y: 190}, Size: 3},
		chart.Layer{Label: "users (demand landmarks)", Points: users, Shape: draw.RingGlyph{}, Color: color.RGBA{B: 200, A: 255}, Size: 7},
		chart.Layer{Label: "edgeplace placements", Points: placed(r.Edgeplace, r, c, 0.25), Shape: draw.TriangleGlyph{}, Color: color.RGBA{G: 150, A: 255}, Size: 6},
		chart.Layer{Label: "stock placements", Points: placed(r.Stock, r, c, -0.25), Shape: draw.CrossGlyph{}, Color: color.RGBA{R: 210, A: 255}, Size: 6},
	); err != nil {
		return err
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
