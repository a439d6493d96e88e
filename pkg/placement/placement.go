// Package placement is what edgeplace makes of one pod's network intent on
// one pinned view of the network map: which landmarks it is scored against
// and with what weights, which RTT figure and estimates count, whether a
// row meets the pod's SLO and its dependency's bound, a row's
// demand-weighted RTT, and the best rows. NetworkLatency's Filter and
// decision record, its queueing hints and PostFilter, and `kubectl
// edgeplace explain` ask it. Score reads PreFilter's one pass over every
// row (memoised columns, netmap.WeightedMean), which the tests hold equal
// to Rows and RowRTT here.
package placement

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// Request is a pod's intent resolved against one view. Landmarks holds the
// demand landmarks, then from DepFrom on the site landmarks of the
// workload the pod depends on, parallel to Weights. It is not written
// after it is resolved, so readers on many goroutines may share it.
type Request struct {
	View       netmap.View
	Intent     *intent.Intent
	Landmarks  []int32
	Weights    []int64
	Percentile netmap.Percentile
	// Bound is the SLO in microseconds on the demand landmarks (0: none);
	// DepBound the bound on the dependency's (0: none).
	Bound, DepBound int32
	// LossBound (parts per million) and JitterBound (us) hold the measured
	// loss and jitter to the demand landmarks (0: none).
	LossBound, JitterBound int32
	DepFrom                int
	// Accept is which estimates stand in for a missing or stale
	// measurement: the pod's policy under an SLO, any estimate otherwise.
	Accept netmap.Source
}

// MissingLandmarkError is a demand landmark the map does not have.
type MissingLandmarkError struct{ Landmark string }

func (e *MissingLandmarkError) Error() string {
	return fmt.Sprintf("landmark %q named in %s does not exist", e.Landmark, v1alpha1.DemandAnnotation)
}

// Resolve resolves the intent's demand against the view; the dependency,
// which needs the pods it names, comes with AddDependency.
func Resolve(view netmap.View, in *intent.Intent) (Request, error) {
	r := Request{
		View:        view,
		Intent:      in,
		Percentile:  Percentile(in.Percentile),
		Bound:       int32(in.MaxRTT / time.Microsecond),
		LossBound:   int32(in.MaxLossPPM),
		JitterBound: int32(in.MaxJitter / time.Microsecond),
		Accept:      netmap.AnyEstimate,
	}
	if in.HasSLO() {
		r.Accept = accepted(in.Estimates)
	}
	for _, d := range in.Demand {
		id, ok := view.Landmark(d.Landmark)
		if !ok {
			return Request{}, &MissingLandmarkError{Landmark: d.Landmark}
		}
		r.Landmarks = append(r.Landmarks, id)
		r.Weights = append(r.Weights, d.Weight)
	}
	r.DepFrom = len(r.Landmarks)
	return r, nil
}

// Narrow keeps the demand landmarks keep says yes to, by index, and their
// weights (replica coverage: a replica serves its slot's users). It must
// come before AddDependency; a narrowing that keeps nothing is ignored.
func (r *Request) Narrow(keep func(i int) bool) {
	var lms []int32
	var weights []int64
	for i, lm := range r.Landmarks[:r.DepFrom] {
		if keep(i) {
			lms, weights = append(lms, lm), append(weights, r.Weights[i])
		}
	}
	if len(lms) == 0 {
		return
	}
	r.Landmarks, r.Weights, r.DepFrom = lms, weights, len(lms)
}

// AddDependency adds, as weighted landmarks, the site landmarks of where
// the pod's dependency runs (DependencySites); the dependency's weight is
// shared among them. Without sites it adds nothing, bound included: a
// dependency that runs nowhere yet holds no node back.
func (r *Request) AddDependency(sites []int32) {
	if r.Intent.DependsOn == nil || len(sites) == 0 {
		return
	}
	share := max(1, r.Intent.DependsOnWeight/int64(len(sites)))
	for _, lm := range sites {
		r.Landmarks = append(r.Landmarks, lm)
		r.Weights = append(r.Weights, share)
	}
	r.DepBound = int32(r.Intent.DependsOnMaxRTT / time.Microsecond)
}

// DependencySites are the site landmarks of the sites where pods (the
// dependency's, as its selector lists them) run, each once, in the pods'
// order; the pod itself and finished pods do not count.
func DependencySites(view netmap.View, self types.UID, pods []*v1.Pod) []int32 {
	seen := map[int32]bool{}
	var sites []int32
	for _, d := range pods {
		if d.Spec.NodeName == "" || d.UID == self || d.Status.Phase == v1.PodSucceeded || d.Status.Phase == v1.PodFailed {
			continue
		}
		if lm, ok := view.SiteLandmark(view.NodeSite(d.Spec.NodeName)); ok && !seen[lm] {
			seen[lm] = true
			sites = append(sites, lm)
		}
	}
	return sites
}

// Demand is the demand landmarks; Dependency the dependency's.
func (r *Request) Demand() []int32     { return r.Landmarks[:r.DepFrom] }
func (r *Request) Dependency() []int32 { return r.Landmarks[r.DepFrom:] }

// HoldsRows says whether some rows can fail the request: the pod has an
// SLO or a loss or jitter bound on its demand, or a bound on its
// dependency's RTT.
func (r *Request) HoldsRows() bool {
	return (r.DepFrom > 0 && (r.Bound > 0 || r.LossBound > 0 || r.JitterBound > 0)) || r.DepBound > 0
}

// Verdict is whether a row meets a request's bounds, and if not, why.
type Verdict uint8

const (
	Meets Verdict = iota
	// Unknown: no fresh measurement, nor an accepted estimate, to a bounded
	// landmark.
	Unknown
	OverSLO
	OverDependency
	OverLoss
	OverJitter
)

// Check holds a row to the SLO on the demand, then to the bound on the
// dependency.
func (r *Request) Check(row int32) Verdict {
	if r.Bound > 0 {
		if v := r.Over(row, r.Demand(), r.Bound); v != Meets {
			return v
		}
	}
	if v := r.OverQuality(row); v != Meets {
		return v
	}
	if r.DepBound > 0 {
		if v := r.Over(row, r.Dependency(), r.DepBound); v != Meets {
			if v == OverSLO {
				v = OverDependency
			}
			return v
		}
	}
	return Meets
}

// Over holds a row to a bound on some landmarks: Meets, Unknown or
// OverSLO.
func (r *Request) Over(row int32, lms []int32, bound int32) Verdict {
	for _, lm := range lms {
		rtt, _, known := r.View.Value(row, lm, r.Percentile, r.Accept)
		if !known {
			return Unknown
		}
		if rtt > bound {
			return OverSLO
		}
	}
	return Meets
}

// OverQuality holds a row's measured loss and jitter to the demand
// landmarks to the request's bounds: Meets, Unknown (no fresh
// measurement: estimates say nothing of loss), OverLoss or OverJitter.
func (r *Request) OverQuality(row int32) Verdict {
	if r.LossBound == 0 && r.JitterBound == 0 {
		return Meets
	}
	for _, lm := range r.Demand() {
		loss, jitter, ok := r.View.Quality(row, lm)
		switch {
		case !ok:
			return Unknown
		case r.LossBound > 0 && loss > r.LossBound:
			return OverLoss
		case r.JitterBound > 0 && jitter > r.JitterBound:
			return OverJitter
		}
	}
	return Meets
}

// RowRTT is a row's demand-weighted mean RTT (us) over every landmark of
// the request, rounded down, or -1 when one is unknown: the figure Score
// ranks by, as Rows has it for every row.
func (r *Request) RowRTT(row int32) int32 {
	if rtt, ok := r.View.MeanRTT(row, r.Landmarks, r.Weights, r.Percentile, r.Accept); ok {
		return rtt
	}
	return -1
}

// Rows writes every row's RowRTT to out, which holds NumRows values, in
// one pass over the table per landmark.
func (r *Request) Rows(out []int32) {
	r.View.WeightedRTT(r.Landmarks, r.Weights, r.Percentile, r.Accept, out)
}

// Ranked is a row and its demand-weighted RTT (us).
type Ranked struct {
	Row int32
	RTT int32
}

// Best returns up to n rows that some node resolves to, pass Check and
// have a known RTT in byRow (Rows'), nearest first, ties by the name of
// the row's first node (as explain lists nodes); skip is left out (-1:
// none). It keeps the best few as it goes rather than sorting every row.
func (r *Request) Best(byRow []int32, n int, skip int32) []Ranked {
	first := func(row int32) string {
		if nodes := r.View.RowNodes(row); len(nodes) > 0 {
			return nodes[0]
		}
		return ""
	}
	less := func(a, b Ranked) int {
		return cmp.Or(cmp.Compare(a.RTT, b.RTT), cmp.Compare(first(a.Row), first(b.Row)))
	}
	var out []Ranked
	for i, rtt := range byRow {
		row := int32(i)
		if row == skip || rtt < 0 || (len(out) == n && less(Ranked{row, rtt}, out[n-1]) >= 0) {
			continue
		}
		if len(r.View.RowNodes(row)) == 0 || (r.HoldsRows() && r.Check(row) != Meets) {
			continue
		}
		if len(out) == n {
			out = out[:n-1]
		}
		at, _ := slices.BinarySearchFunc(out, Ranked{row, rtt}, less)
		out = slices.Insert(out, at, Ranked{row, rtt})
	}
	return out
}

// Percentile is the map's percentile for a configured one.
func Percentile(p config.Percentile) netmap.Percentile {
	if p == config.P50 {
		return netmap.P50
	}
	return netmap.P90
}

// accepted maps a pod's estimate policy to the sources an SLO accepts.
func accepted(p intent.EstimatePolicy) netmap.Source {
	switch p {
	case intent.EstimatesNone:
		return 0
	case intent.EstimatesCoordinates:
		return netmap.AnyEstimate
	}
	return netmap.PeerEstimate
}
