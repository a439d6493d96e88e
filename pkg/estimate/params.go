package estimate

import (
	"fmt"
	"slices"
	"strings"
)

// Params are the map estimator's choices: how hard and how fast the
// coordinates are fitted, whether they carry heights, which fallbacks
// stand in for a missing pair, and how much an estimate is doubted. None
// is tuned on the network it is reported on: cmd/kubectl-edgeplace/evaluate's
// TestQualityTargets chooses them leaving one network out at a time
// (bench/README, "Placement quality"), and DefaultParams is the choice
// made on every network there.
type Params struct {
	// Passes is how many passes over the measurements fit a new coordinate
	// space; later runs add one pass (an incremental update). Above
	// minFirstFitPasses, a large map's first fit is held to firstFitBudget
	// observations per space, down to minFirstFitPasses.
	Passes int
	// Adapt is Vivaldi's cc and ce: the share of a sample's error by which a
	// host's coordinate and its confidence move, scaled by how unsure the
	// host is against its peer.
	Adapt float64
	// Heights gives each coordinate a height, the access link every path
	// from the host pays; without, coordinates are points.
	Heights bool
	// ShortFirst weighs the fit towards short RTTs, the ones placement
	// hinges on: a sample longer than the fit's median RTT moves
	// coordinates by the median over its RTT of what it would otherwise.
	ShortFirst bool
	// Fits is how many coordinate spaces are fitted apart, from different
	// random starts; an estimate is the median of their predictions. At
	// most 8.
	Fits int
	// Fallbacks is the order in which estimates stand in for a missing
	// pair, comma-separated; the first that has one gives it:
	//   - site: the median of what the row's site peers measured;
	//   - city: the same for its city and carrier;
	//   - reverse: the other direction, what nodes in the landmark's city
	//     measured to landmarks in the row's city;
	//   - colocated: for a landmark in the row's own city, the median RTT
	//     of every measured co-located pair;
	//   - coordinates: network coordinates, capped by the shortest
	//     measured path through a third place.
	// A fallback left out is not used; at least one is named.
	Fallbacks string
	// Margin inflates every estimate by this share of it, so that a
	// measured RTT wins against an estimate of about the same figure, and
	// an estimate must beat an SLO by that much (the choice was made on
	// pods without an SLO). It applies after the cap of coordinates by a
	// measured path through a third place, so a capped estimate can exceed
	// that path by the margin. The shipped 5% was chosen for the Seattle
	// testbed's sake: a single time slice of it went from 1.33x the
	// optimum to 1.21x, at a cost within the noise elsewhere.
	Margin float64
}

// DefaultFallbacks is the shipped order of the fallbacks.
const DefaultFallbacks = "site,city,reverse,colocated,coordinates"

// DefaultParams are the estimator's shipped choices.
func DefaultParams() Params {
	return Params{Passes: 30, Adapt: 0.25, Heights: true, Fits: 1, Fallbacks: DefaultFallbacks, Margin: 0.05}
}

// Validate names the first field out of range.
func (p Params) Validate() error {
	switch {
	case p.Passes < 1:
		return fmt.Errorf("estimator passes: invalid value %d: must be at least 1", p.Passes)
	case !(p.Adapt > 0 && p.Adapt <= 1):
		return fmt.Errorf("estimator adapt: invalid value %g: must be in (0, 1]", p.Adapt)
	case p.Fits < 1 || p.Fits > 8:
		return fmt.Errorf("estimator fits: invalid value %d: must be in 1..8", p.Fits)
	case !(p.Margin >= 0 && p.Margin <= 1):
		return fmt.Errorf("estimator margin: invalid value %g: must be in [0, 1]", p.Margin)
	}
	_, err := parseFallbacks(p.Fallbacks)
	return err
}

func (p Params) String() string {
	return fmt.Sprintf("passes %d, adapt %g, heights %v, short first %v, fits %d, fallbacks %s, margin %g",
		p.Passes, p.Adapt, p.Heights, p.ShortFirst, p.Fits, p.Fallbacks, p.Margin)
}

type fallback uint8

const (
	fromSite fallback = iota
	fromCity
	fromReverse
	fromColocated
	fromCoordinates
)

// fallbackNames are the names Params.Fallbacks takes, by fallback.
var fallbackNames = [...]string{
	fromSite: "site", fromCity: "city", fromReverse: "reverse", fromColocated: "colocated", fromCoordinates: "coordinates",
}

// parseFallbacks reads Params.Fallbacks: known names, each once, at least
// one.
func parseFallbacks(s string) ([]fallback, error) {
	var out []fallback
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		i := slices.Index(fallbackNames[:], name)
		switch {
		case i < 0:
			return nil, fmt.Errorf("estimator fallbacks: invalid value %q: %q is none of %s", s, name, strings.Join(fallbackNames[:], ", "))
		case slices.Contains(out, fallback(i)):
			return nil, fmt.Errorf("estimator fallbacks: invalid value %q: %q is named twice", s, name)
		}
		out = append(out, fallback(i))
	}
	return out, nil
}
