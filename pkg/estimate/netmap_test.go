package estimate

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

var (
	now      = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	measured = synthetic.NodeNetwork
)

const ttl = 5 * time.Minute

// estimated publishes the result of an estimator with p for m's current
// snapshot and returns the view that follows.
func estimated(t *testing.T, m *netmap.Map, p Params) netmap.View {
	t.Helper()
	e, err := NewMapEstimatorWith(p)
	require.NoError(t, err)
	m.Flush()
	m.PublishEstimates(e.Estimate(context.Background(), m.Current(), now, ttl))
	return m.Flush().View(now, ttl)
}

// exact is the default parameters without the margin, so that figures are
// the fallbacks' own (TestParams checks the margin).
func exact() Params {
	p := DefaultParams()
	p.Margin = 0
	return p
}

func sortedNodes(set sets.Set[string]) []string { return sets.List(set) }

func valueOf(t *testing.T, v netmap.View, node, landmark string, accept netmap.Source) (int32, netmap.Source, bool) {
	t.Helper()
	row, ok := v.Row(node)
	require.True(t, ok, node)
	lm, ok := v.Landmark(landmark)
	require.True(t, ok, landmark)
	return v.Value(row, lm, netmap.P50, accept)
}

func TestPeerEstimates(t *testing.T) {
	m := netmap.New()
	m.EnableEstimation(ttl)
	m.SetLandmark("hz")
	at := func(site, city string) map[string]string {
		return map[string]string{topology.SiteLabel: site, topology.CityLabel: city, topology.CarrierLabel: "telecom"}
	}
	for _, n := range []string{"a1", "a2", "a3"} {
		m.SetNode(n, at("site-a", "hangzhou"))
	}
	m.SetNode("b1", at("site-b", "hangzhou")) // same city and carrier, another site
	m.SetNode("c1", at("site-c", "urumqi"))   // nobody near
	m.SetNodeNetwork(measured("a1", now, map[string]int64{"hz": 3000}))
	m.SetNodeNetwork(measured("a2", now, map[string]int64{"hz": 5000}))
	v := estimated(t, m, exact())

	got, src, ok := valueOf(t, v, "a1", "hz", netmap.AnyEstimate)
	assert.True(t, ok)
	assert.Equal(t, netmap.Measured, src)
	assert.EqualValues(t, 3000, got)

	got, src, ok = valueOf(t, v, "a3", "hz", netmap.AnyEstimate)
	assert.True(t, ok, "a node without measurements gets its site peers' median")
	assert.Equal(t, netmap.PeerEstimate, src)
	assert.EqualValues(t, 4000, got)

	got, src, ok = valueOf(t, v, "b1", "hz", netmap.AnyEstimate)
	assert.True(t, ok, "then the median of its city and carrier")
	assert.Equal(t, netmap.PeerEstimate, src)
	assert.EqualValues(t, 4000, got)

	_, _, ok = valueOf(t, v, "c1", "hz", netmap.AnyEstimate)
	assert.False(t, ok, "no peers and no coordinates: unknown")
	_, _, ok = valueOf(t, v, "a3", "hz", 0)
	assert.False(t, ok, "a reader that accepts no estimate sees none")

	lm, _ := v.Landmark("hz")
	assert.Equal(t, []string{"a1"}, sortedNodes(v.NodesWithin([]int32{lm}, netmap.P50, 3500, 0).Names()))
	assert.Equal(t, []string{"a1"}, sortedNodes(v.NodesWithin([]int32{lm}, netmap.P50, 3500, netmap.PeerEstimate).Names()))
	assert.Equal(t, []string{"a1", "a2", "a3", "b1"}, sortedNodes(v.NodesWithin([]int32{lm}, netmap.P50, 5000, netmap.PeerEstimate).Names()))
	assert.Equal(t, []string{"a1", "a2"}, sortedNodes(v.NodesWithin([]int32{lm}, netmap.P50, 5000, netmap.CoordinateEstimate).Names()))

	out := make([]int32, v.NumRows())
	v.WeightedRTT([]int32{lm}, []int64{1}, netmap.P50, netmap.PeerEstimate, out)
	row, _ := v.Row("a3")
	assert.EqualValues(t, 4000, out[row])
	v.WeightedRTT([]int32{lm}, []int64{1}, netmap.P50, 0, out)
	assert.EqualValues(t, -1, out[row])

	// A measurement arriving later wins over the estimate.
	m.SetNodeNetwork(measured("a3", now, map[string]int64{"hz": 9000}))
	v = m.Flush().View(now, ttl)
	got, src, _ = valueOf(t, v, "a3", "hz", netmap.AnyEstimate)
	assert.Equal(t, netmap.Measured, src)
	assert.EqualValues(t, 9000, got)
}

// TestCoordinateEstimates places nodes and landmarks on a plane, publishes
// RTT = distance + 2ms, hides one node's RTT to one landmark and checks the
// coordinate estimate against the truth.
func TestCoordinateEstimates(t *testing.T) {
	m := netmap.New()
	m.EnableEstimation(ttl)
	type point struct{ x, y float64 }
	landmarks := map[string]point{"l0": {0, 0}, "l1": {40, 0}, "l2": {0, 40}, "l3": {40, 40}, "l4": {20, 60}}
	for name := range landmarks {
		m.SetLandmark(name)
	}
	truth := func(a, b point) int64 {
		return int64((math.Hypot(a.x-b.x, a.y-b.y) + 2) * 1000)
	}
	target := point{12, 30}
	for i := range 30 {
		p := point{float64(i%6) * 8, float64(i/6) * 10}
		name := fmt.Sprintf("n%d", i)
		m.SetNode(name, map[string]string{topology.SiteLabel: name}) // no peers
		rtt := map[string]int64{}
		for lm, at := range landmarks {
			rtt[lm] = truth(p, at)
		}
		m.SetNodeNetwork(measured(name, now, rtt))
	}
	m.SetNode("target", map[string]string{topology.SiteLabel: "target"})
	rtt := map[string]int64{}
	for lm, at := range landmarks {
		if lm != "l3" {
			rtt[lm] = truth(target, at)
		}
	}
	m.SetNodeNetwork(measured("target", now, rtt))
	want := truth(target, landmarks["l3"])
	variants := map[string]func(p *Params){
		"defaults":         func(*Params) {},
		"no heights":       func(p *Params) { p.Heights = false },
		"short RTTs first": func(p *Params) { p.ShortFirst = true },
		"median of 3 fits": func(p *Params) { p.Fits = 3 },
		"100 passes, 0.1":  func(p *Params) { p.Passes, p.Adapt = 100, 0.1 },
	}
	for name, vary := range variants {
		p := exact()
		vary(&p)
		v := estimated(t, m, p)
		got, src, ok := valueOf(t, v, "target", "l3", netmap.AnyEstimate)
		require.True(t, ok, name)
		assert.Equal(t, netmap.CoordinateEstimate, src, name)
		t.Logf("%s: coordinate estimate %dus, truth %dus", name, got, want)
		assert.InDelta(t, want, got, 0.25*float64(want), name)
		_, _, ok = valueOf(t, v, "target", "l3", netmap.PeerEstimate)
		assert.False(t, ok, "a reader accepting only peer estimates does not get a coordinate one")
	}
}

// TestPlaceEstimates: a node whose RTT to a landmark is missing, with no
// peers in its site or city, gets the reverse direction (what a node in the
// landmark's city measured to users in its city) and, for its own city's
// users, the typical co-located RTT; coordinates come only after those.
func TestPlaceEstimates(t *testing.T) {
	m := netmap.New()
	m.EnableEstimation(ttl)
	cities := []string{"hangzhou", "wuhan", "xian", "chengdu"}
	for _, c := range cities {
		m.SetLandmarkAt("users-"+c, v1alpha1.Location{City: c, Carrier: "telecom"})
		m.SetNode("node-"+c, map[string]string{topology.SiteLabel: c, topology.CityLabel: c, topology.CarrierLabel: "telecom"})
	}
	// Co-located pairs measure 2-4ms; hangzhou <-> wuhan 20ms each way.
	m.SetNodeNetwork(measured("node-hangzhou", now, map[string]int64{"users-hangzhou": 2000, "users-wuhan": 20000, "users-xian": 30000}))
	m.SetNodeNetwork(measured("node-wuhan", now, map[string]int64{"users-wuhan": 3000, "users-xian": 15000}))
	m.SetNodeNetwork(measured("node-xian", now, map[string]int64{"users-xian": 4000, "users-hangzhou": 31000, "users-wuhan": 16000}))
	m.SetNodeNetwork(measured("node-chengdu", now, map[string]int64{"users-hangzhou": 40000, "users-wuhan": 25000, "users-xian": 12000}))
	v := estimated(t, m, exact())

	got, src, ok := valueOf(t, v, "node-wuhan", "users-hangzhou", netmap.AnyEstimate)
	require.True(t, ok)
	assert.Equal(t, netmap.PeerEstimate, src)
	assert.EqualValues(t, 20000, got, "node-hangzhou measured 20ms to wuhan's users")

	got, src, ok = valueOf(t, v, "node-chengdu", "users-chengdu", netmap.AnyEstimate)
	require.True(t, ok)
	assert.Equal(t, netmap.PeerEstimate, src)
	assert.EqualValues(t, 3000, got, "the median co-located RTT (2, 3 and 4ms)")
}

// TestParams: the fallbacks follow their order and can be left out, a
// margin inflates every estimate and no measurement, and the coordinates'
// options all give estimates.
func TestParams(t *testing.T) {
	build := func() *netmap.Map {
		m := netmap.New()
		m.EnableEstimation(ttl)
		for _, c := range []string{"hangzhou", "wuhan"} {
			m.SetLandmarkAt("users-"+c, v1alpha1.Location{City: c, Carrier: "telecom"})
			m.SetNode("node-"+c, map[string]string{topology.SiteLabel: c, topology.CityLabel: c, topology.CarrierLabel: "telecom"})
		}
		m.SetNode("node-wuhan-2", map[string]string{topology.SiteLabel: "wuhan", topology.CityLabel: "wuhan", topology.CarrierLabel: "telecom"})
		m.SetNodeNetwork(measured("node-hangzhou", now, map[string]int64{"users-hangzhou": 2000, "users-wuhan": 20000}))
		m.SetNodeNetwork(measured("node-wuhan", now, map[string]int64{"users-wuhan": 3000}))
		return m
	}
	with := func(p Params) netmap.View { return estimated(t, build(), p) }

	v := with(exact())
	got, _, _ := valueOf(t, v, "node-wuhan", "users-hangzhou", netmap.PeerEstimate)
	assert.EqualValues(t, 20000, got, "the reverse direction")
	got, _, _ = valueOf(t, v, "node-wuhan-2", "users-wuhan", netmap.PeerEstimate)
	assert.EqualValues(t, 3000, got, "its site peer's 3ms, before the co-located median")

	colocatedFirst := exact()
	colocatedFirst.Fallbacks = "colocated,site,city,reverse,coordinates"
	got, _, _ = valueOf(t, with(colocatedFirst), "node-wuhan-2", "users-wuhan", netmap.PeerEstimate)
	assert.EqualValues(t, 2500, got, "the co-located median (2 and 3ms) when it comes first")

	noReverse := exact()
	noReverse.Fallbacks = "site,city,colocated,coordinates"
	_, src, ok := valueOf(t, with(noReverse), "node-wuhan", "users-hangzhou", netmap.AnyEstimate)
	assert.False(t, ok && src == netmap.PeerEstimate, "without the reverse fallback, no peer estimate stands in")

	v = with(DefaultParams())
	require.Equal(t, 0.05, DefaultParams().Margin)
	got, _, _ = valueOf(t, v, "node-wuhan", "users-hangzhou", netmap.PeerEstimate)
	assert.EqualValues(t, 21000, got, "the reverse direction, 5% up")
	got, _, _ = valueOf(t, v, "node-wuhan-2", "users-wuhan", netmap.PeerEstimate)
	assert.EqualValues(t, 3150, got, "its site peer's 3ms, 5% up")
	got, src, _ = valueOf(t, v, "node-wuhan", "users-wuhan", netmap.PeerEstimate)
	assert.Equal(t, netmap.Measured, src)
	assert.EqualValues(t, 3000, got, "a measurement is not inflated")

	_, err := NewMapEstimatorWith(Params{})
	assert.ErrorContains(t, err, "estimator passes: invalid value 0", "invalid parameters make no estimator")

	for _, tc := range []struct {
		set  func(p *Params)
		want string
	}{
		{func(p *Params) { p.Passes = 0 }, "estimator passes: invalid value 0"},
		{func(p *Params) { p.Adapt = 0 }, "estimator adapt: invalid value 0"},
		{func(p *Params) { p.Adapt = 1.5 }, "estimator adapt: invalid value 1.5"},
		{func(p *Params) { p.Margin = -0.1 }, "estimator margin: invalid value -0.1"},
		{func(p *Params) { p.Fits = 9 }, "estimator fits: invalid value 9"},
		{func(p *Params) { p.Fallbacks = "site,peers" }, `estimator fallbacks: invalid value "site,peers": "peers" is none of`},
		{func(p *Params) { p.Fallbacks = "site,city,site" }, `"site" is named twice`},
		{func(p *Params) { p.Fallbacks = "" }, `estimator fallbacks: invalid value "": "" is none of site, city, reverse, colocated, coordinates`},
	} {
		p := DefaultParams()
		tc.set(&p)
		assert.ErrorContains(t, p.Validate(), tc.want)
	}
}
