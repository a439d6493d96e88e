package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

// The matrices the quality targets are held to. Each is reported with the
// estimator's parameters chosen on the matrices of the other networks
// (choice_test.go).
// RIPE Atlas's "None" is the bucket of probes without a country, not a
// place.
var matrices = []struct {
	name, network string
	open          func() (*Matrix, error)
	known         misses
}{
	{"ripe-atlas", "ripe-atlas", file("../../../pkg/estimate/testdata/ripe-atlas-country-rtt.csv.gz", Format{Columns: Columns{From: "cty1", To: "cty2", RTT: "rtt_avg"}}, "None"),
		misses{within: 0.84, hit: 0.84}},
	{"aws", "aws", file("testdata/aws-inter-region-p50-ms.json", Format{}), misses{within: 0.89, hit: 0.89}},
	{"seattle", "seattle", file("testdata/seattle-median-rtt-ms.txt", Format{}), misses{replicas: 1.23}},
	{"seattle-slice1", "seattle", file("testdata/seattle-slice1-rtt-ms.txt", Format{}),
		misses{ratio: 1.04, within: 0.88, hit: 0.89, replicas: 1.30}},
	{"synthetic", "synthetic", syntheticMatrix, misses{}},
}

// misses are the targets a matrix misses today, each with the figure the
// test still holds it to, so that a change that makes it worse fails: what
// was measured, rounded to the side of worse. The runs are repeatable
// (Scenario.Repeatable), so a figure moves only when the code does. Zero:
// the target holds.
type misses struct {
	ratio    float64 // mean RTT over (1.10x the optimum + 0.5 ms), at most
	within   float64 // pods within 1 ms of the optimum, at least
	hit      float64 // nearestHit, at least
	replicas float64 // 3 replicas masked over the exact optimum, at most
}

// The protocol (bench/README, "Placement quality"): every seed from 1 to
// 20, none chosen, 200 single pods each, 2 nodes per site, 30% of the
// site-to-population pairs hidden.
const (
	maskSeeds = 20
	maskPods  = 200
	maskShare = 0.3
)

// The targets, on the mean over the draws.
const (
	targetRatio    = 1.10 // edgeplace's mean RTT <= targetRatio x the optimum's + targetSlack
	targetSlackMs  = 0.5
	targetWithin   = 0.90 // pods within 1 ms of the optimum
	targetHit      = 0.90 // nearestHit
	targetReplicas = 1.05 // 3 replicas, masked, over the exact optimum
)

// file loads a matrix from a file, leaving out the places named.
func file(path string, format Format, exclude ...string) func() (*Matrix, error) {
	return func() (*Matrix, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, _, err := Load(f, format)
		if err != nil || len(exclude) == 0 {
			return m, err
		}
		return m.Without(exclude...)
	}
}

// syntheticMatrix is pkg/synthetic's RTT model of the 93 operator edge
// sites (31 provinces x 3 carriers), the one the benchmarks' clusters are
// made of: distance plus a cross-carrier penalty, where the nearest site
// to a population is usually its own city's, on its own carrier.
func syntheticMatrix() (*Matrix, error) {
	table := map[string]map[string]float64{}
	for _, a := range synthetic.Sites() {
		row := map[string]float64{}
		for _, b := range synthetic.Sites() {
			row[b.ID()] = float64(synthetic.RTT(a, b)) / float64(time.Millisecond)
		}
		table[a.ID()] = row
	}
	data, err := json.Marshal(table)
	if err != nil {
		return nil, err
	}
	m, _, err := Load(bytes.NewReader(data), Format{})
	return m, err
}

// matrixNamed loads one of the matrices by name.
func matrixNamed(t *testing.T, name string) *Matrix {
	t.Helper()
	for _, mx := range matrices {
		if mx.name == name {
			m, err := mx.open()
			require.NoError(t, err, name)
			return m
		}
	}
	t.Fatalf("no matrix %q", name)
	return nil
}

// protocol is the scenario of one draw of the quality protocol.
func protocol(seed uint64, p *estimate.Params) Scenario {
	return Scenario{NodesPerSite: 2, SiteFraction: 0.5, Pods: maskPods, Mask: maskShare, Seed: seed, Estimator: p, Repeatable: true}
}

// qualityRow is one matrix's line of the report.
type qualityRow struct {
	name                      string
	params                    estimate.Params
	places, sites             int
	edgeMs, optMs             float64 // masked: means over the draws
	within, hit, near         float64
	replicas                  float64 // 3 replicas, masked, over the optimum
	replicasExact             bool
	unmaskedWithin, unmasked3 float64
}

// TestQualityTargets holds the real scheduler with the shipped profile to
// the placement targets on every matrix, and prints one table of them.
func TestQualityTargets(t *testing.T) {
	var mu sync.Mutex
	var rows []qualityRow
	t.Cleanup(func() {
		slices.SortFunc(rows, func(a, b qualityRow) int { return strings.Compare(a.name, b.name) })
		var out strings.Builder
		fmt.Fprintf(&out, "\n| matrix | estimator, chosen on the other networks | the shipped defaults (chosen on every network, this one too) | places, sites | mask %.1f: mean RTT, edgeplace / optimum | / (%.2fx optimum + %.1f ms) | within 1 ms | nearestHit | nearRelError | 3 replicas masked / optimum | unmasked: within 1 ms, 3 replicas |\n",
			maskShare, targetRatio, targetSlackMs)
		out.WriteString("|---|---|---|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, r := range rows {
			bound := "exact"
			if !r.replicasExact {
				bound = "bound"
			}
			same := "different"
			if r.params == estimate.DefaultParams() {
				same = "the same"
			}
			fmt.Fprintf(&out, "| %s | %v | %s | %d, %d | %.2f / %.2f ms = %.3fx | %.3f | %.1f%% | %.1f%% | %.1f%% | %.3fx (%s) | %.1f%%, %.3fx |\n",
				r.name, r.params, same, r.places, r.sites, r.edgeMs, r.optMs, r.edgeMs/r.optMs, r.edgeMs/(targetRatio*r.optMs+targetSlackMs),
				100*r.within, 100*r.hit, 100*r.near, r.replicas, bound, 100*r.unmaskedWithin, r.unmasked3)
		}
		t.Log(out.String())
	})
	for _, mx := range matrices {
		t.Run(mx.name, func(t *testing.T) {
			t.Parallel()
			m := matrixNamed(t, mx.name)
			row := qualityRow{name: mx.name, params: chosenParams(t, mx.network)}
			t.Logf("estimator chosen without %s's matrices: %v", mx.network, row.params)
			base := protocol(1, &row.params)
			base.Mask = 0

			res, err := Run(context.Background(), m, base)
			require.NoError(t, err)
			row.places, row.sites, row.unmaskedWithin = res.Places, res.Sites, res.Edgeplace.Within1msOfOptimal
			assert.Equal(t, 1.0, res.Edgeplace.Within1msOfOptimal, "unmasked: every pod within 1 ms of the optimum")
			gap := res.Stock.MeanRTTms - res.Optimal.MeanRTTms
			require.Positive(t, gap, "stock is not already optimal")

			// held checks a figure against its target (a floor when
			// atLeast, else a ceiling): it must meet it, or be a known miss
			// that meets its guard (zero: not a known miss).
			held := func(what string, got, target, guard float64, atLeast bool) {
				meets := func(bound float64) bool { return (atLeast && got >= bound) || (!atLeast && got <= bound) }
				switch {
				case meets(target):
				case guard == 0:
					t.Errorf("%s: %.3f, target %.3f", what, got, target)
				case !meets(guard):
					t.Errorf("%s: %.3f, target %.3f, and worse than when last measured (%.3f)", what, got, target, guard)
				default:
					t.Logf("missed (known): %s: %.3f, target %.3f", what, got, target)
				}
			}
			var edge, opt, within, hit, near []float64
			for seed := uint64(1); seed <= maskSeeds; seed++ {
				masked := base
				masked.Mask, masked.Seed = maskShare, seed
				res, err = Run(context.Background(), m, masked)
				require.NoError(t, err)
				edge, opt = append(edge, res.Edgeplace.MeanRTTms), append(opt, res.Optimal.MeanRTTms)
				within = append(within, res.Edgeplace.Within1msOfOptimal)
				hit, near = append(hit, res.Estimation.NearestHit), append(near, res.Estimation.NearRelError)
			}
			row.edgeMs, row.optMs = mean(edge), mean(opt)
			row.within, row.hit, row.near = mean(within), mean(hit), mean(near)
			ratio := row.edgeMs / (targetRatio*row.optMs + targetSlackMs)
			perDraw := ratios(edge, opt)
			_, stderr := meanAndStdErr(perDraw)
			t.Logf("mask %.1f, seeds 1-%d, %d pods each: edgeplace %.2f ms, optimum %.2f ms (%.3fx; draws %.3fx-%.3fx, standard error %.3f); %.1f%% within 1 ms; nearestHit %.1f%%; nearRelError %.1f%%",
				maskShare, maskSeeds, maskPods, row.edgeMs, row.optMs, row.edgeMs/row.optMs,
				slices.Min(perDraw), slices.Max(perDraw), stderr, 100*row.within, 100*row.hit, 100*row.near)
			for i, r := range perDraw {
				if r > 1.5 {
					t.Logf("draw %d: %.3fx the optimum", i+1, r)
				}
			}
			held(fmt.Sprintf("mean RTT over (%.2fx the optimum + %.1f ms)", targetRatio, targetSlackMs), ratio, 1, mx.known.ratio, false)
			held("share of pods within 1 ms of the optimum", row.within, targetWithin, mx.known.within, true)
			held("nearestHit", row.hit, targetHit, mx.known.hit, true)

			for _, mask := range []float64{0, maskShare} {
				reps := base
				reps.Pods, reps.Replicas, reps.Workloads, reps.LandmarksPerWorkload, reps.Mask = 0, 3, 10, 12, mask
				res, err = Run(context.Background(), m, reps)
				require.NoError(t, err)
				r := res.Replicas
				t.Logf("3 replicas x %d workloads, mask %g: edgeplace %.1fms, stock %.1fms, optimum %.1fms (exact %v)",
					r.Workloads, mask, r.Edgeplace, r.Stock, r.Optimal, r.Exact)
				assert.Less(t, r.Edgeplace, r.Stock)
				if mask == 0 {
					row.unmasked3 = r.Edgeplace / r.Optimal
					assert.LessOrEqual(t, r.Edgeplace, 1.10*r.Optimal)
					continue
				}
				row.replicas, row.replicasExact = r.Edgeplace/r.Optimal, r.Exact
				if r.Exact {
					held("3 replicas masked, over the exact optimum", row.replicas, targetReplicas, mx.known.replicas, false)
				} else {
					t.Logf("3 replicas masked: %.3fx the Lagrangian bound (no exact optimum to hold the target to)", row.replicas)
				}
			}
			mu.Lock()
			rows = append(rows, row)
			mu.Unlock()
		})
	}
}

func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

// TestSLO: with an SLO, edgeplace never places a pod beyond it where a node
// meets it; stock does not know about SLOs.
func TestSLO(t *testing.T) {
	m := matrixNamed(t, "aws")
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

// TestRunLeavesNothingRunning: a run stops its schedulers' goroutines, so
// that a test or a tool making hundreds of runs does not pile them up.
func TestRunLeavesNothingRunning(t *testing.T) {
	m := matrixNamed(t, "aws")
	for seed := range uint64(3) {
		_, err := Run(context.Background(), m, Scenario{NodesPerSite: 1, SiteFraction: 0.5, Pods: 20, Mask: 0.3, Seed: seed})
		require.NoError(t, err)
	}
	// What a scheduler starts and keeps until its context ends, or its
	// event broadcaster is shut down.
	marks := []string{"scheduler/backend/cache.(*cacheImpl).run", "metrics.(*MetricAsyncRecorder).run", "watch.(*Broadcaster).loop"}
	var left []string
	assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<22)
		stacks := string(buf[:runtime.Stack(buf, true)])
		left = left[:0]
		for _, mark := range marks {
			if strings.Contains(stacks, mark) {
				left = append(left, mark)
			}
		}
		return len(left) == 0
	}, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, left, "schedulers' goroutines still running")
}

// TestRepeatable: a repeatable run places every pod where the same run
// does, even with other runs sharing the machine (the shipped profile's
// ties fall in the order of a map and of parallel workers, which such runs
// do not repeat).
func TestRepeatable(t *testing.T) {
	m := matrixNamed(t, "seattle-slice1")
	placements := make([][]placement, 4)
	var wg sync.WaitGroup
	for i := range placements {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := Run(context.Background(), m, protocol(27, nil))
			if assert.NoError(t, err) {
				placements[i] = res.placements
			}
		}()
	}
	wg.Wait()
	for i := 1; i < len(placements); i++ {
		assert.Equal(t, placements[0], placements[i], "run %d", i)
	}
}
