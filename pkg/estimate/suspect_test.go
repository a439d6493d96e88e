package estimate

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// TestSuspectMeasurements: a node that publishes 0.1 ms where its site
// peers measure 20 ms is not trusted: its entry reads as unmeasured, its
// peers' median stands in for it, and its next writes are held to the same
// floor at once; a figure in line with its peers is trusted again.
func TestSuspectMeasurements(t *testing.T) {
	at := func(site, city string) map[string]string {
		return map[string]string{topology.SiteLabel: site, topology.CityLabel: city, topology.CarrierLabel: "telecom"}
	}
	tests := []struct {
		name    string
		peers   map[string]int64 // node -> p50 (us) to hz
		suspect int64
		want    bool
		city    bool // the peers are in other sites of the city, not a1's
	}{
		{"0.1 ms against 20 ms peers", map[string]int64{"a2": 20000, "a3": 21000}, 100, true, false},
		{"half the peers' and 5 ms under", map[string]int64{"a2": 20000, "a3": 20000}, 9000, true, false},
		{"half the peers' but not 5 ms under", map[string]int64{"a2": 8000, "a3": 9000}, 3500, false, false},
		{"a little better than its peers", map[string]int64{"a2": 20000, "a3": 21000}, 15000, false, false},
		{"one peer is not enough", map[string]int64{"a2": 20000}, 100, false, false},
		{"city peers: under a tenth", map[string]int64{"b1": 8000, "c1": 9000}, 100, true, true},
		{"city peers: a metro's spread is not suspect", map[string]int64{"b1": 8000, "c1": 9000}, 1000, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := netmap.New()
			m.EnableEstimation(ttl)
			m.SetLandmark("hz")
			m.SetNode("a1", at("site-a", "hangzhou"))
			for n, rtt := range tc.peers {
				peerSite := "site-a"
				if tc.city {
					peerSite = "site-" + n
				}
				m.SetNode(n, at(peerSite, "hangzhou"))
				m.SetNodeNetwork(measured(n, now, map[string]int64{"hz": rtt}))
			}
			m.SetNodeNetwork(measured("a1", now, map[string]int64{"hz": tc.suspect}))
			m.SetState(netmap.Ready)
			v := estimated(t, m, exact())
			row, _ := v.Row("a1")
			lm, _ := v.Landmark("hz")
			sus, held := v.Suspect(row, lm)
			assert.Equal(t, tc.want, held)
			got, src, ok := v.Value(row, lm, netmap.P50, netmap.AnyEstimate)
			require.True(t, ok)
			if !tc.want {
				assert.Equal(t, netmap.Measured, src)
				assert.EqualValues(t, tc.suspect, got)
				return
			}
			assert.EqualValues(t, tc.suspect, sus.P50, "the published value is kept")
			assert.Equal(t, netmap.PeerEstimate, src, "the peers' median stands in")
			assert.Greater(t, got, sus.Floor)
			assert.Equal(t, netmap.SuspectBelow(sus.PeersMin, !tc.city), sus.Floor)
			_, fresh := v.RTT(row, lm, netmap.P50)
			assert.False(t, fresh, "SLO admission and evictions read it as unmeasured")
			assert.Equal(t, []netmap.SuspectEntry{{Object: "a1", Landmark: "hz", Suspect: sus}}, m.Current().Suspects())

			// Written again before the next estimation pass: held at once.
			m.SetNodeNetwork(measured("a1", now, map[string]int64{"hz": tc.suspect + 1}))
			v = m.Flush().View(now, ttl)
			_, held = v.Suspect(row, lm)
			assert.True(t, held, "a new write under the floor is suspect at once")
			_, fresh = v.RTT(row, lm, netmap.P50)
			assert.False(t, fresh)
			// Another pass keeps it so, from the value it holds.
			v = estimated(t, m, exact())
			_, held = v.Suspect(row, lm)
			assert.True(t, held, "the next pass judges the held value")

			// In line with its peers: trusted.
			m.SetNodeNetwork(measured("a1", now, map[string]int64{"hz": int64(sus.PeersMin) - 1000}))
			v = m.Flush().View(now, ttl)
			_, held = v.Suspect(row, lm)
			assert.False(t, held)
			got, src, _ = v.Value(row, lm, netmap.P50, netmap.AnyEstimate)
			assert.Equal(t, netmap.Measured, src)
			assert.EqualValues(t, sus.PeersMin-1000, got)
			v = estimated(t, m, exact())
			assert.Empty(t, m.Current().Suspects())
		})
	}
}

// TestTriangleCheck: a node that publishes 0.1 ms to two landmarks 60 ms
// apart (as nodes at each landmark's place measure them) is not trusted,
// whether it is alone in its site and city or has a site peer publishing
// the same lie; honest nodes are, and so is everyone when the separation
// rests on one node at each end, or when one node at a landmark inflates
// it.
func TestTriangleCheck(t *testing.T) {
	at := func(site, city string) map[string]string {
		return map[string]string{topology.SiteLabel: site, topology.CityLabel: city, topology.CarrierLabel: "telecom"}
	}
	us := func(hz, sh int64) map[string]int64 { return map[string]int64{"hz": hz, "sh": sh} }
	// Nodes at each landmark's place: 1 ms to their own, 61 to the other.
	ends := map[string]map[string]int64{"hz1": us(1000, 61000), "hz2": us(1000, 61000), "sh1": us(61000, 1000), "sh2": us(61000, 1000)}
	tests := []struct {
		name    string
		judged  map[string]map[string]int64 // node (in site-<node>'s wuhan, or site-a) -> measurements
		oneSite bool                        // the judged nodes share site-a
		ends    func(map[string]map[string]int64)
		want    map[string]string // "node/landmark" -> the landmark it was held against
	}{
		{name: "alone in its site and city, 0.1 ms to both",
			judged: map[string]map[string]int64{"z": us(100, 100)},
			want:   map[string]string{"z/hz": "sh", "z/sh": "hz"}},
		{name: "two nodes of a site publishing the same lie",
			judged: map[string]map[string]int64{"a1": us(100, 100), "a2": us(100, 100)}, oneSite: true,
			want: map[string]string{"a1/hz": "sh", "a1/sh": "hz", "a2/hz": "sh", "a2/sh": "hz"}},
		{name: "one lie among honest figures",
			judged: map[string]map[string]int64{"z": us(2000, 100)},
			want:   map[string]string{"z/sh": "hz", "z/hz": "sh"}},
		{name: "honest, between the two",
			judged: map[string]map[string]int64{"z": us(30000, 31000)}},
		{name: "honest, next to one",
			judged: map[string]map[string]int64{"z": us(2000, 60000)}},
		{name: "one node at each end is not enough",
			judged: map[string]map[string]int64{"z": us(100, 100)},
			ends:   func(e map[string]map[string]int64) { delete(e, "hz2"); delete(e, "sh2") }},
		{name: "one node inflating the separation makes no honest node suspect",
			judged: map[string]map[string]int64{"z": us(2000, 58000)},
			ends:   func(e map[string]map[string]int64) { e["hz1"] = us(1000, 300000); e["sh1"] = us(300000, 1000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := netmap.New()
			m.EnableEstimation(ttl)
			m.SetLandmarkAt("hz", v1alpha1.Location{City: "hangzhou", Carrier: "telecom"})
			m.SetLandmarkAt("sh", v1alpha1.Location{City: "shanghai", Carrier: "telecom"})
			e := maps.Clone(ends)
			if tc.ends != nil {
				tc.ends(e)
			}
			for n, rtt := range e {
				m.SetNode(n, at("site-"+n, map[byte]string{'h': "hangzhou", 's': "shanghai"}[n[0]]))
				m.SetNodeNetwork(measured(n, now, rtt))
			}
			for n, rtt := range tc.judged {
				site := "site-" + n
				if tc.oneSite {
					site = "site-a"
				}
				m.SetNode(n, at(site, "wuhan"))
				m.SetNodeNetwork(measured(n, now, rtt))
			}
			m.SetState(netmap.Ready)
			v := estimated(t, m, exact())
			got := map[string]string{}
			for _, s := range m.Current().Suspects() {
				got[s.Object+"/"+s.Landmark] = s.Via
				assert.Zero(t, s.PeersMin, "found by the triangle, not by peers")
				assert.Less(t, s.P50, s.Floor)
				assert.Equal(t, netmap.TriangleBelow(s.Separation, s.ViaRTT), s.Floor)
				row, _ := v.Row(s.Object)
				lm, _ := v.Landmark(s.Landmark)
				_, fresh := v.RTT(row, lm, netmap.P50)
				assert.False(t, fresh, "%s/%s reads as unmeasured", s.Object, s.Landmark)
			}
			if tc.want == nil {
				tc.want = map[string]string{}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
