package evaluate

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/estimate"
)

// Leave-one-matrix-out. The estimator's parameters a matrix is reported
// with are the ones that placed best on the other matrices, and on draws
// apart from the reported ones (seeds 21-32 here, 1-20 in the report), so
// that no figure of the report was looked at to choose them.
const (
	chooseFirstSeed = 21
	chooseSeeds     = 12
)

// paramGrid is the default parameters, first so that ties go to them, and
// each of them moved alone to each other level tried: passes and adapt to
// both sides. Two full factorials (32 entries each, passes and adapt at
// two levels each) found no interaction worth the time; they are in
// bench/results/estimator-grid.txt.
func paramGrid() []estimate.Params {
	d := estimate.DefaultParams()
	grid := []estimate.Params{d}
	vary := func(set func(p *estimate.Params)) {
		p := d
		set(&p)
		grid = append(grid, p)
	}
	for _, passes := range []int{30, 300} {
		vary(func(p *estimate.Params) { p.Passes = passes })
	}
	for _, adapt := range []float64{0.1, 0.5} {
		vary(func(p *estimate.Params) { p.Adapt = adapt })
	}
	vary(func(p *estimate.Params) { p.Heights = !p.Heights })
	vary(func(p *estimate.Params) { p.ShortFirst = !p.ShortFirst })
	vary(func(p *estimate.Params) { p.Fits = 3 })
	vary(func(p *estimate.Params) { p.Reverse = !p.Reverse })
	for _, margin := range []float64{0.02, 0.05} {
		vary(func(p *estimate.Params) { p.Margin = margin })
	}
	return grid
}

// score is a grid entry's figure on one matrix: edgeplace's mean RTT over
// the optimum's, its mean over the choice draws and that mean's standard
// error.
type score struct{ mean, stderr float64 }

// choiceScores holds, per matrix, each grid entry's score.
type choiceScores map[string][]score

// pick chooses a grid entry on every matrix but held (none: every matrix).
// An entry is judged by its worst matrix: a choice must not buy a gain on
// one network with a loss on another (judged by the mean over matrices,
// the Seattle fold chose coordinates without heights for RIPE Atlas's
// sake, and Seattle went from 1.21x to 1.34x). The entry chosen is the
// first, the default foremost, within one standard error of the best: the
// scheduler breaks ties between equal nodes at random, and differences
// below that moved the choice from one run to the next.
func (s choiceScores) pick(held string) int {
	best := -1
	var bestScore score
	for i := range s.entries() {
		if sc, ok := s.worst(i, held); ok && (best < 0 || sc.mean < bestScore.mean) {
			best, bestScore = i, sc
		}
	}
	for i := range best {
		if sc, _ := s.worst(i, held); sc.mean <= bestScore.mean+bestScore.stderr {
			return i
		}
	}
	return best
}

// worst is a grid entry's score on its worst matrix but held.
func (s choiceScores) worst(i int, held string) (score, bool) {
	var worst score
	ok := false
	for name, scores := range s {
		if name != held && (!ok || scores[i].mean > worst.mean) {
			worst, ok = scores[i], true
		}
	}
	return worst, ok
}

func (s choiceScores) entries() int {
	for _, scores := range s {
		return len(scores)
	}
	return 0
}

var (
	choiceOnce sync.Once
	choice     choiceScores
	choiceErr  error
)

// chosenParams scores the grid on every matrix once per test binary and
// returns the parameters chosen without the held matrix.
func chosenParams(t *testing.T, held string) estimate.Params {
	t.Helper()
	choiceOnce.Do(func() { choice, choiceErr = scoreGrid(t) })
	require.NoError(t, choiceErr)
	return paramGrid()[choice.pick(held)]
}

// scoreGrid runs the choice draws for every matrix and grid entry, one
// run per core at a time.
func scoreGrid(t *testing.T) (choiceScores, error) {
	grid := paramGrid()
	type job struct{ matrix, entry int }
	loaded := make([]*Matrix, len(matrices))
	for i, mx := range matrices {
		loaded[i] = mx.open(t)
	}
	scores := choiceScores{}
	for _, mx := range matrices {
		scores[mx.name] = make([]score, len(grid))
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p := grid[j.entry]
				var draws []float64
				for seed := uint64(chooseFirstSeed); seed < chooseFirstSeed+chooseSeeds; seed++ {
					res, err := Run(context.Background(), loaded[j.matrix], Scenario{
						NodesPerSite: 2, SiteFraction: 0.5, Pods: maskPods, Mask: maskShare, Seed: seed, Estimator: &p})
					if err != nil {
						mu.Lock()
						firstErr = fmt.Errorf("%s, %v, seed %d: %w", matrices[j.matrix].name, p, seed, err)
						mu.Unlock()
						break
					}
					draws = append(draws, res.Edgeplace.MeanRTTms/res.Optimal.MeanRTTms)
				}
				var sc score
				if len(draws) > 1 {
					sc.mean, sc.stderr = meanAndStdErr(draws)
				}
				scores[matrices[j.matrix].name][j.entry] = sc // each job its own element
			}
		}()
	}
	for m := range matrices {
		for e := range grid {
			jobs <- job{m, e}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nchoice draws (seeds %d-%d): mean RTT over the optimum, per grid entry\n", chooseFirstSeed, chooseFirstSeed+chooseSeeds-1)
	for i, p := range grid {
		fmt.Fprintf(&out, "%2d %-55s", i, p)
		for _, mx := range matrices {
			fmt.Fprintf(&out, " %s %.3f±%.3f", mx.name, scores[mx.name][i].mean, scores[mx.name][i].stderr)
		}
		worst, _ := scores.worst(i, "")
		fmt.Fprintf(&out, " worst %.4f\n", worst.mean)
	}
	t.Log(out.String())
	return scores, nil
}

// TestShippedParams holds the estimator's defaults to the choice made on
// every matrix.
func TestShippedParams(t *testing.T) {
	chosenParams(t, "")
	chosen := paramGrid()[choice.pick("")]
	worst, _ := choice.worst(0, "")
	t.Logf("chosen on every matrix: %v; shipped: %v (worst matrix %.4f)", chosen, estimate.DefaultParams(), worst.mean)
	assert.Equal(t, estimate.DefaultParams(), chosen, "the grid places better than the shipped parameters, by more than the draws' noise")
}

func TestPick(t *testing.T) {
	for name, tc := range map[string]struct {
		scores choiceScores
		held   string
		want   int
	}{
		"clearly better": {choiceScores{"a": {{1.10, 0.01}, {1.05, 0.01}}, "b": {{1.10, 0.01}, {1.06, 0.01}}}, "", 1},
		"within one standard error of the best: the first": {choiceScores{"a": {{1.10, 0.01}, {1.095, 0.01}}, "b": {{1.08, 0.01}, {1.07, 0.01}}}, "", 0},
		"judged by the worst matrix, not the mean":         {choiceScores{"a": {{1.10, 0.001}, {1.00, 0.001}}, "b": {{1.10, 0.001}, {1.15, 0.001}}}, "", 0},
		"the held matrix does not count":                   {choiceScores{"a": {{1.10, 0.001}, {1.00, 0.001}}, "b": {{1.10, 0.001}, {1.15, 0.001}}}, "b", 1},
		"a tie goes to the lower index":                    {choiceScores{"a": {{1.1, 0}, {1.1, 0}}}, "", 0},
		"nothing left to choose on":                        {choiceScores{"a": {{1, 0}}}, "a", -1},
	} {
		assert.Equal(t, tc.want, tc.scores.pick(tc.held), name)
	}
}
