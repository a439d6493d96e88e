package evaluate

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/edgeplace/edgeplace/pkg/chart"
)

// Plot draws, on a longitude/latitude plane, the edge sites and, for each
// population that single pods served, a line to the site each profile
// chose (edgeplace, stock) and a mark at the optimum. Places without a
// location in sites are left out; it fails when no site has one.
func (r *Result) Plot(m *Matrix, sites map[string]Site, file string) error {
	where := func(place int) (plotter.XY, bool) {
		s, ok := sites[m.Places[place]]
		return plotter.XY{X: s.Lon, Y: s.Lat}, ok && s.HasLocation
	}
	p := plot.New()
	p.Title.Text = "Where single pods went: users to the chosen edge site"
	p.X.Label.Text = "longitude"
	p.Y.Label.Text = "latitude"

	type segment struct{ from, to int }
	profiles := []struct {
		label  string
		color  color.Color
		dashes []vg.Length
		site   func(placement) int
	}{
		{"stock", color.RGBA{R: 210, A: 255}, []vg.Length{vg.Points(4), vg.Points(3)}, func(pl placement) int { return pl.stock }},
		{"edgeplace", color.RGBA{G: 150, A: 255}, nil, func(pl placement) int { return pl.edgeplace }},
	}
	for _, prof := range profiles {
		seen := map[segment]bool{}
		first := true
		for _, pl := range r.placements {
			seg := segment{pl.users, prof.site(pl)}
			if seen[seg] || seg.from == seg.to {
				continue
			}
			seen[seg] = true
			a, okA := where(seg.from)
			b, okB := where(seg.to)
			if !okA || !okB {
				continue
			}
			line, err := plotter.NewLine(plotter.XYs{a, b})
			if err != nil {
				return err
			}
			line.Color, line.Dashes, line.Width = prof.color, prof.dashes, vg.Points(1)
			p.Add(line)
			if first {
				p.Legend.Add(prof.label+": users to chosen site", line)
				first = false
			}
		}
	}
	var sitePts, userPts, optimumPts plotter.XYs
	for place := range m.Places {
		xy, ok := where(place)
		if ok {
			userPts = append(userPts, xy)
		}
	}
	if len(userPts) == 0 {
		return fmt.Errorf("plot: no place of the matrix has a location in the site metadata")
	}
	for _, pl := range r.placements {
		if xy, ok := where(pl.optimal); ok {
			optimumPts = append(optimumPts, xy)
		}
	}
	for _, place := range r.sites {
		if xy, ok := where(place); ok {
			sitePts = append(sitePts, xy)
		}
	}
	if err := chart.AddScatters(p,
		chart.Layer{Label: "users (every place)", Points: userPts, Shape: draw.RingGlyph{}, Color: color.RGBA{B: 200, A: 255}, Size: 6},
		chart.Layer{Label: "edge sites", Points: sitePts, Shape: draw.CircleGlyph{}, Color: color.Gray{Y: 110}, Size: 4},
		chart.Layer{Label: "optimal site", Points: optimumPts, Shape: draw.SquareGlyph{}, Color: color.RGBA{R: 230, G: 160, A: 255}, Size: 4},
	); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(10*vg.Inch, 6*vg.Inch, file)
}
