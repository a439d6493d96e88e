package probe

import (
	"slices"
	"time"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Divergence is how far a node's own measurements may be from its site
// object's before the node gets a NodeNetwork of its own: both bounds must
// be passed, so that neither a few milliseconds on a long path nor a large
// share of a short one counts.
type Divergence struct {
	Min      time.Duration
	Relative float64
}

// DefaultDivergence: 10 ms and half the site's median.
func DefaultDivergence() Divergence { return Divergence{Min: 10 * time.Millisecond, Relative: 0.5} }

// Diverging returns, sorted, the landmarks whose median RTT in the node's
// summary differs from the site object's by more than both bounds.
// Landmarks measured on one side only do not count.
func (d Divergence) Diverging(own Summary, site []v1alpha1.LandmarkRTT) []string {
	var out []string
	for _, e := range site {
		st, ok := own[e.Landmark]
		if !ok || e.RTTP50Microseconds <= 0 {
			continue
		}
		siteP50 := time.Duration(e.RTTP50Microseconds) * time.Microsecond
		diff := (st.P50 - siteP50).Abs()
		if diff > d.Min && float64(diff) > d.Relative*float64(siteP50) {
			out = append(out, e.Landmark)
		}
	}
	slices.Sort(out)
	return out
}
