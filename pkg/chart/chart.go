// Package chart holds what the demo's and evaluate's placement plots share.
package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Layer is one set of points drawn with one glyph and listed in the legend.
type Layer struct {
	Label  string
	Points plotter.XYs
	Shape  draw.GlyphDrawer
	Color  color.Color
	Size   vg.Length
}

// AddScatters adds each non-empty layer to p as a scatter with a legend
// entry.
func AddScatters(p *plot.Plot, layers ...Layer) error {
	for _, l := range layers {
		if len(l.Points) == 0 {
			continue
		}
		s, err := plotter.NewScatter(l.Points)
		if err != nil {
			return err
		}
		s.GlyphStyle.Shape, s.GlyphStyle.Color, s.GlyphStyle.Radius = l.Shape, l.Color, l.Size/2
		p.Add(s)
		p.Legend.Add(l.Label, s)
	}
	return nil
}
