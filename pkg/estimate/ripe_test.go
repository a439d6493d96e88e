package estimate

import (
	"compress/gzip"
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrix is a symmetric RTT matrix between named hosts.
type matrix struct {
	names []string
	index map[string]int
	rtt   map[[2]int]float64 // key with i < j
}

func loadRIPE(t *testing.T) *matrix {
	t.Helper()
	f, err := os.Open("testdata/ripe-atlas-country-rtt.csv.gz")
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	r := csv.NewReader(gz)
	header, err := r.Read()
	require.NoError(t, err)
	require.Equal(t, []string{"cty1", "cty2", "rtt_cnt", "rtt_avg", "rtt_std", "rtt_min", "rtt_max"}, header)
	m := &matrix{index: map[string]int{}, rtt: map[[2]int]float64{}}
	id := func(name string) int {
		if i, ok := m.index[name]; ok {
			return i
		}
		m.index[name] = len(m.names)
		m.names = append(m.names, name)
		return len(m.names) - 1
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		v, err := strconv.ParseFloat(rec[3], 64)
		require.NoError(t, err)
		a, b := id(rec[0]), id(rec[1])
		if a == b || v <= 0 {
			continue
		}
		m.rtt[[2]int{min(a, b), max(a, b)}] = v
	}
	return m
}

// TestEstimationOnRIPEAtlas hides 30% of the measured country pairs,
// estimates them from the rest, and compares with the truth.
func TestEstimationOnRIPEAtlas(t *testing.T) {
	m := loadRIPE(t)
	pairs := make([][2]int, 0, len(m.rtt))
	for p := range m.rtt {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	rng := rand.New(rand.NewPCG(30, 70))
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	hidden, known := pairs[:len(pairs)*3/10], pairs[len(pairs)*3/10:]

	knownRTT := map[[2]int]float64{}
	var samples []Sample
	for _, p := range known {
		knownRTT[p] = m.rtt[p]
		samples = append(samples, Sample{I: p[0], J: p[1], RTT: m.rtt[p]})
	}
	space := NewSpace(len(m.names), 1)
	space.Fit(samples, 150)
	peers := NewPeers(len(m.names), knownRTT, peerCount)

	var coordErr, peerErr, combinedErr, peerOnHits, coordOnHits []float64
	for _, p := range hidden {
		truth := m.rtt[p]
		c := space.Predict(p[0], p[1])
		coordErr = append(coordErr, math.Abs(c-truth)/truth)
		combined := c
		if e, ok := peers.Estimate(p[0], p[1]); ok {
			peerErr = append(peerErr, math.Abs(e-truth)/truth)
			peerOnHits = append(peerOnHits, math.Abs(e-truth)/truth)
			coordOnHits = append(coordOnHits, math.Abs(c-truth)/truth)
			combined = e
		}
		combinedErr = append(combinedErr, math.Abs(combined-truth)/truth)
	}
	coord, _ := Median(coordErr)
	peer, _ := Median(peerErr)
	comb, _ := Median(combinedErr)
	peerHits, _ := Median(peerOnHits)
	coordHits, _ := Median(coordOnHits)
	t.Logf("RIPE Atlas, %d countries, %d pairs, %d hidden (30%%): median relative error: Vivaldi %.1f%%, "+
		"peer median %.1f%% (estimates %d of %d; Vivaldi on those same pairs %.1f%%), peers then Vivaldi %.1f%%",
		len(m.names), len(pairs), len(hidden), 100*coord, 100*peer, len(peerErr), len(hidden), 100*coordHits, 100*comb)
	// Measured 9.1% with this seed; the bound leaves room for changes to the
	// fitting schedule, not for a regression back to the baseline.
	assert.Less(t, coord, 0.12, "Vivaldi's median relative error")
	assert.Less(t, coordHits, peerHits, "Vivaldi beats the peer median where both estimate")
}
