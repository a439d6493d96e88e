package evaluate

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The measured matrices the quality targets are held to. tuned says
// whether the estimator's constants were chosen on the matrix: figures on
// the others are the ones that say how edgeplace does on a network it has
// never seen. RIPE Atlas's "None" is the bucket of probes without a
// country, not a place.
var matrices = []struct {
	name, path string
	format     Format
	exclude    []string
	tuned      bool
}{
	{"ripe-atlas", "../estimate/testdata/ripe-atlas-country-rtt.csv.gz", Format{Columns: Columns{From: "cty1", To: "cty2", RTT: "rtt_avg"}}, []string{"None"}, true},
	{"aws", "testdata/aws-inter-region-p50-ms.json", Format{}, nil, true},
	{"seattle", "testdata/seattle-median-rtt-ms.txt", Format{}, nil, false},
}

// Which pairs --mask hides decides much of a run's outcome: on the AWS
// matrix one draw's ratio to the optimum ranges from 1.0 to 1.6 (standard
// deviation about 0.1), so the masked target is held to the mean over many
// draws. Fewer pods per draw buy more draws for the same time.
const (
	maskSeeds = 200
	maskPods  = 50
)

func load(t *testing.T, path string, format Format, exclude ...string) *Matrix {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m, _, err := Load(f, format)
	require.NoError(t, err)
	if len(exclude) > 0 {
		m, err = m.Without(exclude...)
		require.NoError(t, err)
	}
	return m
}

// TestQualityTargets holds the real scheduler with the shipped profile to
// the placement targets on both matrices.
func TestQualityTargets(t *testing.T) {
	for _, mx := range matrices {
		t.Run(mx.name, func(t *testing.T) {
			t.Parallel()
			m := load(t, mx.path, mx.format, mx.exclude...)
			t.Logf("%s: estimator constants chosen on it: %v", mx.name, mx.tuned)
			base := Scenario{NodesPerSite: 2, SiteFraction: 0.5, Pods: 200, Seed: 1}

			res, err := Run(context.Background(), m, base)
			require.NoError(t, err)
			t.Logf("%d places, %d sites: edgeplace mean %.1fms (%.0f%% within 1ms), stock %.1fms, optimum %.1fms",
				res.Places, res.Sites, res.Edgeplace.MeanRTTms, 100*res.Edgeplace.Within1msOfOptimal, res.Stock.MeanRTTms, res.Optimal.MeanRTTms)
			assert.GreaterOrEqual(t, res.Edgeplace.Within1msOfOptimal, 0.95)
			assert.LessOrEqual(t, res.Edgeplace.MeanRTTms, 1.02*res.Optimal.MeanRTTms+0.5)
			gap := res.Stock.MeanRTTms - res.Optimal.MeanRTTms
			require.Positive(t, gap, "stock is not already optimal")
			closed := (res.Stock.MeanRTTms - res.Edgeplace.MeanRTTms) / gap
			t.Logf("edgeplace closes %.1f%% of the gap between stock and the optimum", 100*closed)
			assert.GreaterOrEqual(t, closed, 0.90)

			var ratios, near, hits []float64
			for seed := uint64(1); seed <= maskSeeds; seed++ {
				masked := base
				masked.Mask, masked.Seed, masked.Pods = 0.3, seed, maskPods
				res, err = Run(context.Background(), m, masked)
				require.NoError(t, err)
				ratios = append(ratios, res.Edgeplace.MeanRTTms/res.Optimal.MeanRTTms)
				near, hits = append(near, res.Estimation.NearRelError), append(hits, res.Estimation.NearestHit)
			}
			mean, stderr := meanAndStdErr(ratios)
			t.Logf("mask 0.3, %d draws of %d pods: edgeplace's mean RTT is %.3fx the optimum on average (standard error %.3f; draws from %.3fx to %.3fx)",
				maskSeeds, maskPods, mean, stderr, slices.Min(ratios), slices.Max(ratios))
			nearMean, _ := meanAndStdErr(near)
			hitMean, _ := meanAndStdErr(hits)
			t.Logf("mask 0.3: nearRelError %.1f%%, nearestHit %.1f%% (means over the draws)", 100*nearMean, 100*hitMean)
			// Estimates are held to the target on the matrices their
			// constants were chosen on. On the others the target is not
			// met yet (bench/README, "Placement quality"): the test
			// reports how far off they are, and fails if they get worse.
			masked := func(got, target, today float64, what string) {
				if mx.tuned {
					assert.LessOrEqual(t, got, target, what)
					return
				}
				if got > target {
					t.Logf("%s: %.3f, target %.3f: missed on a matrix the estimator was not tuned on", what, got, target)
				}
				assert.LessOrEqual(t, got, today, "%s: worse than when it was last measured", what)
			}
			masked(mean, 1.10, 1.25, "mask 0.3, mean RTT over the optimum")

			for _, mask := range []float64{0, 0.3} {
				reps := base
				reps.Pods, reps.Replicas, reps.Workloads, reps.LandmarksPerWorkload, reps.Mask = 0, 3, 10, 12, mask
				res, err = Run(context.Background(), m, reps)
				require.NoError(t, err)
				r := res.Replicas
				t.Logf("3 replicas x %d workloads, mask %g: edgeplace %.1fms, stock %.1fms, optimum %.1fms (exact %v)",
					r.Workloads, mask, r.Edgeplace, r.Stock, r.Optimal, r.Exact)
				if mask == 0 {
					assert.LessOrEqual(t, r.Edgeplace, 1.10*r.Optimal)
				} else {
					masked(r.Edgeplace/r.Optimal, 1.10, 1.40, "3 replicas, mask 0.3, mean RTT over the optimum")
				}
				assert.Less(t, r.Edgeplace, r.Stock)
			}
		})
	}
}

// TestSLO: with an SLO, edgeplace never places a pod beyond it where a node
// meets it; stock does not know about SLOs.
func TestSLO(t *testing.T) {
	m := load(t, matrices[1].path, matrices[1].format, matrices[1].exclude...)
	res, err := Run(context.Background(), m, Scenario{NodesPerSite: 1, SiteFraction: 0.5, Pods: 60, SLO: 40e6, Seed: 3})
	require.NoError(t, err)
	assert.Zero(t, res.Edgeplace.SLOViolations)
	assert.Positive(t, res.Stock.SLOViolations)
	t.Logf("SLO 40ms: edgeplace refused %d pods no site could serve in time; stock violated the SLO %d times",
		res.Edgeplace.Unplaced, res.Stock.SLOViolations)
}

// TestBoundsAgainstExhaustive: the Lagrangian bound never exceeds the exact
// optimum and comes close to it.
func TestBoundsAgainstExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var worst float64
	for range 50 {
		sites, users, k := 6+rng.IntN(10), 3+rng.IntN(15), 1+rng.IntN(4)
		cost := make([][]float64, sites)
		for i := range cost {
			cost[i] = make([]float64, users)
			for l := range cost[i] {
				cost[i][l] = 1 + 200*rng.Float64()
			}
		}
		weights := make([]int64, users)
		for l := range weights {
			weights[l] = 1 + int64(rng.IntN(9))
		}
		exact := exhaustive(cost, weights, k)
		bound := lagrangianBound(cost, weights, k)
		require.LessOrEqual(t, bound, exact+1e-6)
		worst = max(worst, (exact-bound)/exact)
	}
	t.Logf("the bound was within %.1f%% of the optimum on every instance", 100*worst)
	assert.Less(t, worst, 0.10)
}

// meanAndStdErr is the sample mean and its standard error.
func meanAndStdErr(xs []float64) (mean, stderr float64) {
	for _, x := range xs {
		mean += x / float64(len(xs))
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1) / float64(len(xs)))
}
