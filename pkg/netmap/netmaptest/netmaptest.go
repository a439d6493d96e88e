// Package netmaptest builds small network maps for tests: one node per
// site, each site measured by a site-scoped NodeNetwork, and estimates
// published as the estimator would.
package netmaptest

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// RTT is a measurement's p50 and p90, in milliseconds, and its loss
// (parts per million) and jitter (microseconds).
type RTT struct {
	P50, P90          int64
	LossPPM, JitterUS int64
}

// Estimate is an estimated entry of a site's node, in milliseconds.
type Estimate struct {
	Site, Landmark string
	RTT            RTT
	Source         netmap.Source
}

// Sites returns a ready map with the landmarks (where they are: a Site
// makes a site landmark), one node "SITE-0" per site, labelled with its
// site, whose NodeNetwork "site-SITE" measured sites[SITE] at now, and the
// estimates.
func Sites(now time.Time, landmarks map[string]v1alpha1.Location, sites map[string]map[string]RTT, estimates ...Estimate) *netmap.Map {
	m := netmap.New()
	for name, where := range landmarks {
		m.SetLandmarkAt(name, where)
	}
	for site, rtts := range sites {
		nn := &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "site-" + site},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site},
		}
		for lm, rtt := range rtts {
			nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: lm, RTTP50Microseconds: rtt.P50 * 1000, RTTP90Microseconds: rtt.P90 * 1000,
				LossPartsPerMillion: rtt.LossPPM, JitterMicroseconds: rtt.JitterUS, Samples: 10, ObservedTime: metav1.NewTime(now),
			})
		}
		m.SetNode(site+"-0", map[string]string{v1alpha1.SiteLabel: site})
		m.SetNodeNetwork(nn)
	}
	m.SetState(netmap.Ready)
	snap := m.Flush()
	if len(estimates) == 0 {
		return m
	}
	m.EnableEstimation(time.Hour)
	view := snap.View(now, time.Hour)
	est := netmap.NewEstimates(snap, now)
	for _, e := range estimates {
		row, okRow := view.Row(e.Site + "-0")
		lm, okLM := view.Landmark(e.Landmark)
		if okRow && okLM {
			est.Set(row, lm, int32(e.RTT.P50*1000), int32(e.RTT.P90*1000), e.Source)
		}
	}
	m.PublishEstimates(est)
	m.Flush()
	return m
}
