package netmap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const ttl = 5 * time.Minute

// measured builds a NodeNetwork; rtt maps landmark -> p50 microseconds (p90
// is p50 + 10%).
var measured = synthetic.NodeNetwork

// site is the labels of a node in a site ("" for none).
func site(name string) map[string]string {
	if name == "" {
		return nil
	}
	return map[string]string{v1alpha1.SiteLabel: name}
}

func siteMeasured(name, site string, at time.Time, rtt map[string]int64) *v1alpha1.NodeNetwork {
	nn := measured(name, at, rtt)
	nn.Spec = v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site}
	return nn
}

func rttOf(t *testing.T, v View, node, landmark string, p Percentile) (int32, bool) {
	t.Helper()
	row, ok := v.Row(node)
	if !ok {
		return 0, false
	}
	lm, ok := v.Landmark(landmark)
	require.True(t, ok, "landmark %s", landmark)
	return v.RTT(row, lm, p)
}

func TestEmptyMap(t *testing.T) {
	m := New()
	s := m.Current()
	assert.Equal(t, Unavailable, s.State())
	assert.Zero(t, s.NumLandmarks())
	_, ok := s.View(now, ttl).Row("n1")
	assert.False(t, ok)
	assert.Same(t, s, m.Flush(), "flushing nothing publishes nothing")
}

func TestNodeAndSiteRows(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetNode("own", site("site-a"))
	m.SetNode("peer", site("site-a"))
	m.SetNode("lonely", nil)
	m.SetNodeNetwork(measured("own", now, map[string]int64{"hz": 5000}))
	m.SetNodeNetwork(siteMeasured("site-a-probe", "site-a", now, map[string]int64{"hz": 9000}))
	m.SetState(Ready)
	v := m.Flush().View(now, ttl)

	assert.Equal(t, Ready, v.State())
	got, ok := rttOf(t, v, "own", "hz", P50)
	assert.True(t, ok)
	assert.EqualValues(t, 5000, got, "a node's own object wins over its site's")
	got, ok = rttOf(t, v, "peer", "hz", P50)
	assert.True(t, ok)
	assert.EqualValues(t, 9000, got, "a node without its own object reads its site's")
	got, _ = rttOf(t, v, "peer", "hz", P90)
	assert.EqualValues(t, 9900, got)
	_, ok = rttOf(t, v, "lonely", "hz", P50)
	assert.False(t, ok, "a node with neither has no measurements (its row is virtual)")
	row, _ := v.Row("lonely")
	assert.Equal(t, "node lonely", v.Describe(row))

	row, _ = v.Row("peer")
	assert.Equal(t, "site site-a", v.Describe(row))
	row, _ = v.Row("own")
	assert.Equal(t, "node own", v.Describe(row))
}

func TestStaleIsMissing(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetNode("fresh", nil)
	m.SetNode("stale", nil)
	m.SetNodeNetwork(measured("fresh", now.Add(-ttl+time.Second), map[string]int64{"hz": 20_000}))
	m.SetNodeNetwork(measured("stale", now.Add(-ttl-time.Second), map[string]int64{"hz": 1_000}))
	v := m.Flush().View(now, ttl)

	_, ok := rttOf(t, v, "stale", "hz", P90)
	assert.False(t, ok, "an entry older than the TTL reads as missing")
	_, ok = rttOf(t, v, "fresh", "hz", P90)
	assert.True(t, ok)

	lm, _ := v.Landmark("hz")
	assert.Equal(t, []string{"fresh"}, sortedNodes(v.NodesWithin([]int32{lm}, P90, 60_000_000, 0).Names()))
	row, best, ok := v.Best(lm, P90)
	require.True(t, ok)
	assert.Equal(t, "node fresh", v.Describe(row))
	assert.EqualValues(t, 22_000, best, "the stale 1ms entry must not be offered as the best")
}

func TestUpdatesShareUntouchedChunksAndKeepOldSnapshots(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	for i := range 3 * chunkRows {
		name := fmt.Sprintf("n%03d", i)
		m.SetNode(name, nil)
		m.SetNodeNetwork(measured(name, now, map[string]int64{"hz": int64(1000 + i)}))
	}
	before := m.Flush()
	require.Len(t, before.table.chunks, 3)

	m.SetNodeNetwork(measured("n000", now, map[string]int64{"hz": 77_000}))
	after := m.Flush()

	assert.NotSame(t, before.table.chunks[0], after.table.chunks[0], "the written chunk is copied")
	assert.Same(t, before.table.chunks[1], after.table.chunks[1], "untouched chunks are shared")
	assert.Same(t, before.table.chunks[2], after.table.chunks[2])
	old, _ := rttOf(t, before.View(now, ttl), "n000", "hz", P50)
	assert.EqualValues(t, 1000, old, "a published snapshot never changes")
	cur, _ := rttOf(t, after.View(now, ttl), "n000", "hz", P50)
	assert.EqualValues(t, 77_000, cur)
	assert.Equal(t, before.Generation()+1, after.Generation())
}

func TestLandmarkAddedAfterMeasurements(t *testing.T) {
	m := New()
	m.SetNode("n1", nil)
	m.SetNodeNetwork(measured("n1", now, map[string]int64{"hz": 3000, "sh": 8000}))
	m.SetLandmark("hz")
	v := m.Flush().View(now, ttl)
	_, ok := v.Landmark("sh")
	assert.False(t, ok)

	m.SetLandmark("sh")
	v = m.Flush().View(now, ttl)
	got, ok := rttOf(t, v, "n1", "sh", P50)
	assert.True(t, ok, "measurements stored before the landmark existed appear once it does")
	assert.EqualValues(t, 8000, got)
}

// TestLateEstimates: estimates are made off the hot path and published
// later; those made before the landmark set changed number the landmarks
// differently and are dropped, the others are kept.
func TestLateEstimates(t *testing.T) {
	m := New()
	m.EnableEstimation(ttl)
	m.SetNode("n1", nil)
	m.SetNode("n2", nil)
	m.SetNodeNetwork(measured("n1", now, map[string]int64{"hz": 3000, "sh": 8000}))
	m.SetLandmark("hz")
	m.SetLandmark("sh")
	s := m.Flush()
	estimateN2 := func(s *Snapshot) *Estimates {
		e := NewEstimates(s, now)
		row, _ := s.View(now, ttl).Row("n2")
		sh, _ := s.View(now, ttl).Landmark("sh")
		e.Set(row, sh, 9000, 9900, PeerEstimate)
		return e
	}

	m.SetNode("n3", nil) // a change that keeps the landmarks
	m.Flush()
	m.PublishEstimates(estimateN2(s))
	v := m.Flush().View(now, ttl)
	row, _ := v.Row("n2")
	sh, _ := v.Landmark("sh")
	got, src, ok := v.Value(row, sh, P50, AnyEstimate)
	require.True(t, ok, "estimates made for the same landmarks are published")
	assert.Equal(t, PeerEstimate, src)
	assert.EqualValues(t, 9000, got)

	s = m.Current()
	late := estimateN2(s)
	m.SetLandmark("bj") // now bj is ID 0, and sh 2
	m.Flush()
	m.PublishEstimates(late)
	v = m.Flush().View(now, ttl)
	row, _ = v.Row("n2")
	for lm := range int32(v.NumLandmarks()) {
		_, _, ok := v.Value(row, lm, P50, AnyEstimate)
		assert.False(t, ok, "an estimate made for other landmark IDs is dropped (landmark %s)", v.LandmarkName(lm))
	}
}

func TestDeletes(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetNode("n1", site("s"))
	m.SetNode("n2", site("s"))
	m.SetNodeNetwork(measured("n1", now, map[string]int64{"hz": 3000}))
	m.SetNodeNetwork(siteMeasured("site-s", "s", now, map[string]int64{"hz": 6000}))
	m.Flush()

	m.DeleteNodeNetwork("n1")
	v := m.Flush().View(now, ttl)
	got, ok := rttOf(t, v, "n1", "hz", P50)
	assert.True(t, ok)
	assert.EqualValues(t, 6000, got, "without its own object a node falls back to its site")

	m.DeleteNodeNetwork("site-s")
	v = m.Flush().View(now, ttl)
	_, ok = rttOf(t, v, "n1", "hz", P50)
	assert.False(t, ok)
	lm, _ := v.Landmark("hz")
	assert.Empty(t, v.NodesWithin([]int32{lm}, P50, 60_000_000, 0).Names())

	m.SetNodeNetwork(siteMeasured("site-s", "s", now, map[string]int64{"hz": 6000}))
	m.DeleteNode("n2")
	v = m.Flush().View(now, ttl)
	assert.Equal(t, []string{"n1"}, sortedNodes(v.NodesWithin([]int32{lm}, P50, 60_000_000, 0).Names()))
}

// TestAgainstModel drives the map with random changes and compares every
// read with a brute-force model of the same state.
func TestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := New()
	landmarks := []string{"l0", "l1", "l2", "l3"}
	sites := []string{"", "s0", "s1", "s2"}
	type model struct {
		nodes   map[string]string
		objects map[string]*v1alpha1.NodeNetwork
		lms     map[string]bool
	}
	md := model{nodes: map[string]string{}, objects: map[string]*v1alpha1.NodeNetwork{}, lms: map[string]bool{}}

	randomRTT := func() map[string]int64 {
		out := map[string]int64{}
		for _, lm := range landmarks {
			if rng.IntN(4) > 0 {
				out[lm] = int64(rng.IntN(80_000))
			}
		}
		return out
	}
	for step := range 400 {
		for range 1 + rng.IntN(6) {
			switch op := rng.IntN(10); {
			case op < 2:
				name, siteName := fmt.Sprintf("n%d", rng.IntN(150)), sites[rng.IntN(len(sites))]
				m.SetNode(name, site(siteName))
				md.nodes[name] = siteName
			case op == 2:
				name := fmt.Sprintf("n%d", rng.IntN(150))
				m.DeleteNode(name)
				delete(md.nodes, name)
			case op < 7:
				name := fmt.Sprintf("n%d", rng.IntN(150))
				age := time.Duration(rng.IntN(8)) * time.Minute
				nn := measured(name, now.Add(-age), randomRTT())
				m.SetNodeNetwork(nn)
				md.objects[name] = nn
			case op == 7:
				siteName := sites[1+rng.IntN(len(sites)-1)]
				nn := siteMeasured("site-"+siteName, siteName, now, randomRTT())
				m.SetNodeNetwork(nn)
				md.objects[nn.Name] = nn
			case op == 8:
				names := slices.Sorted(func(yield func(string) bool) {
					for k := range md.objects {
						if !yield(k) {
							return
						}
					}
				})
				if len(names) > 0 {
					name := names[rng.IntN(len(names))]
					m.DeleteNodeNetwork(name)
					delete(md.objects, name)
				}
			default:
				lm := landmarks[rng.IntN(len(landmarks))]
				if rng.IntN(3) == 0 {
					m.DeleteLandmark(lm)
					delete(md.lms, lm)
				} else {
					m.SetLandmark(lm)
					md.lms[lm] = true
				}
			}
		}
		v := m.Flush().View(now, ttl)

		// The model's answer for one node and landmark.
		want := func(node, lm string, p Percentile) (int32, bool) {
			site, exists := md.nodes[node]
			if !exists || !md.lms[lm] {
				return 0, false
			}
			obj, ok := md.objects[node]
			if ok && obj.Spec.Scope == v1alpha1.ScopeSite {
				ok = false
			}
			if !ok && site != "" {
				obj, ok = md.objects["site-"+site]
			}
			if !ok {
				return 0, false
			}
			for _, e := range obj.Status.Landmarks {
				if e.Landmark == lm {
					if now.Sub(e.ObservedTime.Time) > ttl {
						return 0, false
					}
					if p == P50 {
						return int32(e.RTTP50Microseconds), true
					}
					return int32(e.RTTP90Microseconds), true
				}
			}
			return 0, false
		}
		for _, lm := range landmarks {
			id, ok := v.Landmark(lm)
			require.Equal(t, md.lms[lm], ok, "step %d landmark %s", step, lm)
			if !ok {
				continue
			}
			bound := int32(rng.IntN(90_000))
			var wantWithin []string
			for node := range md.nodes {
				got, gotOK := int32(0), false
				if row, has := v.Row(node); has {
					got, gotOK = v.RTT(row, id, P90)
				}
				exp, expOK := want(node, lm, P90)
				require.Equal(t, expOK, gotOK, "step %d node %s landmark %s", step, node, lm)
				require.Equal(t, exp, got, "step %d node %s landmark %s", step, node, lm)
				if expOK && exp <= bound {
					wantWithin = append(wantWithin, node)
				}
			}
			slices.Sort(wantWithin)
			require.Equal(t, wantWithin, sortedNodes(v.NodesWithin([]int32{id}, P90, bound, 0).Names()), "step %d landmark %s bound %d", step, lm, bound)
		}
		// Each row's node locations follow its nodes through every change.
		for row := range int32(v.NumRows()) {
			nodes, locs := v.RowNodes(row), v.RowLocations(row)
			require.Len(t, locs, len(nodes), "step %d row %d", step, row)
			for i, n := range nodes {
				ref, ok := v.Node(n)
				require.True(t, ok, "step %d node %s", step, n)
				require.Equal(t, ref.Location, locs[i], "step %d row %d node %s", step, row, n)
			}
		}
	}
}

func sortedNodes(set sets.Set[string]) []string {
	if set.Len() == 0 {
		return nil
	}
	return sets.List(set)
}

func TestBucketsCoverTheRange(t *testing.T) {
	assert.Equal(t, 0, bucketOf(0))
	assert.Equal(t, 0, bucketOf(249))
	assert.Equal(t, 1, bucketOf(250))
	last := bucketOf(60_000_000)
	assert.Equal(t, len(bucketLow)-1, last)
	for i := 1; i < len(bucketLow); i++ {
		require.Less(t, bucketLow[i-1], bucketLow[i])
		// Buckets stay narrow: at most 3% or 250us wide.
		width := bucketLow[i] - bucketLow[i-1]
		assert.LessOrEqual(t, float64(width), max(250, 0.03*float64(bucketLow[i-1])))
	}
}

func TestWeightedRTT(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetLandmark("sh")
	for i := range 150 { // three chunks, the last one partial
		name := fmt.Sprintf("n%03d", i)
		m.SetNode(name, nil)
		rtt := map[string]int64{"hz": int64(1000 * i), "sh": 3000}
		at := now
		switch {
		case i%10 == 3:
			delete(rtt, "sh")
		case i%10 == 7:
			at = now.Add(-time.Hour)
		}
		m.SetNodeNetwork(measured(name, at, rtt))
	}
	v := m.Flush().View(now, ttl)
	hz, _ := v.Landmark("hz")
	sh, _ := v.Landmark("sh")
	out := make([]int32, v.NumRows())
	v.WeightedRTT([]int32{hz, sh}, []int64{3, 1}, P50, 0, out)
	for i := range 150 {
		row, ok := v.Row(fmt.Sprintf("n%03d", i))
		require.True(t, ok)
		want := int32((3*1000*i + 3000) / 4)
		if i%10 == 3 || i%10 == 7 {
			want = -1
		}
		require.Equal(t, want, out[row], "node n%03d", i)
	}
}

func TestLandmarkLocations(t *testing.T) {
	m := New()
	m.SetLandmarkAt("hz", v1alpha1.Location{Province: "zhejiang", Carrier: "telecom"})
	m.SetLandmark("sh")
	s := m.Flush()
	hz, _ := s.Landmark("hz")
	sh, _ := s.Landmark("sh")
	assert.Equal(t, "telecom", s.LandmarkLocation(hz).Carrier)
	assert.Empty(t, s.LandmarkLocation(sh).Carrier)

	m.SetLandmarkAt("sh", v1alpha1.Location{Province: "shanghai", Carrier: "unicom"})
	next := m.Flush()
	assert.Equal(t, "unicom", next.LandmarkLocation(sh).Carrier, "a location change needs no rebuild but shows")
	assert.Empty(t, s.LandmarkLocation(sh).Carrier, "the older snapshot is unchanged")
}

func TestWeightedMeanRoundsDownLikeIntegerDivision(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, k := range []int{1, 2, 3, 5} {
		// Up to the annotation's largest weight; five of those total more
		// than the float path takes.
		for _, maxWeight := range []int64{1, 100, 1_000_000} {
			const rows = 700
			cols := make([][]int32, k)
			weights := make([]int64, k)
			for i := range cols {
				weights[i] = maxWeight - rng.Int64N(maxWeight/10+1)
				cols[i] = make([]int32, rows)
				for r := range cols[i] {
					switch rng.IntN(20) {
					case 0:
						cols[i][r] = -1
					case 1:
						cols[i][r] = maxRTT
					default:
						cols[i][r] = rng.Int32N(200_000)
					}
				}
			}
			out := make([]int32, rows)
			WeightedMean(cols, weights, out)
			var total int64
			for _, w := range weights {
				total += w
			}
			for r := range rows {
				var sum int64
				want := int32(0)
				for i := range cols {
					if cols[i][r] < 0 {
						want = -1
						break
					}
					sum += int64(cols[i][r]) * weights[i]
				}
				if want == 0 {
					want = int32(sum / total)
				}
				require.Equal(t, want, out[r], "%d columns, weights %v, row %d", k, weights, r)
			}
		}
	}
	// Whole quotients are the cases a float reciprocal gets wrong by one.
	for total := int64(1); total < 5000; total++ {
		d := newDivider(total)
		for _, q := range []int64{0, 1, 999, 59_999_999} {
			require.Equal(t, q, d.div(q*total), "total %d quotient %d", total, q)
			if q > 0 {
				require.Equal(t, q-1, d.div(q*total-1), "total %d just below quotient %d", total, q)
			}
		}
	}
}
