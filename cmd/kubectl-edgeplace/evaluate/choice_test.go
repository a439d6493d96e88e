package evaluate

import (
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/estimate"
)

// Leave one network out. The estimator's parameters a matrix is reported
// with are the ones that placed best on the other networks' matrices, and
// on draws apart from the reported ones (seeds 21-32 here, 1-20 in the
// report), so that no figure of the report was looked at to choose them.
const (
	chooseFirstSeed = 21
	chooseSeeds     = 12
)

// paramGrid is the default parameters, first so that ties go to them, and
// each of them moved alone to each other level tried: passes, adapt and
// the margin to both sides. Two full factorials (32 entries each, passes
// and adapt at two levels each) found no interaction worth the time; they
// are in bench/results/estimator-grid.txt.
func paramGrid() []estimate.Params {
	d := estimate.DefaultParams()
	grid := []estimate.Params{d}
	vary := func(set func(p *estimate.Params)) {
		p := d
		set(&p)
		if p != d {
			grid = append(grid, p)
		}
	}
	for _, passes := range []int{10, 30, 100, 300} {
		vary(func(p *estimate.Params) { p.Passes = passes })
	}
	for _, adapt := range []float64{0.1, 0.25, 0.5} {
		vary(func(p *estimate.Params) { p.Adapt = adapt })
	}
	vary(func(p *estimate.Params) { p.Heights = !p.Heights })
	vary(func(p *estimate.Params) { p.ShortFirst = !p.ShortFirst })
	for _, fits := range []int{1, 3} {
		vary(func(p *estimate.Params) { p.Fits = fits })
	}
	for _, order := range []string{
		estimate.DefaultFallbacks,
		"site,city,colocated,coordinates",         // no reverse direction
		"site,city,colocated,reverse,coordinates", // co-located first
		"site,city,colocated,coordinates,reverse", // reverse last
		"city,site,reverse,colocated,coordinates", // city before site
		"site,city,reverse,coordinates",           // no co-located median
	} {
		vary(func(p *estimate.Params) { p.Fallbacks = order })
	}
	for _, margin := range []float64{0, 0.02, 0.05, 0.1} {
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

// pick chooses a grid entry on every matrix but the held ones (none:
// every matrix). An entry is judged by its worst matrix: a choice must not
// buy a gain on one network with a loss on another (judged by the mean over
// matrices, the Seattle fold chose coordinates without heights for RIPE
// Atlas's sake, and Seattle went from 1.21x to 1.34x). The entry chosen is
// the first, the default foremost, within one standard error of the best:
// a default moves only for a difference the draws can tell.
func (s choiceScores) pick(held ...string) int {
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

// worst is a grid entry's score on its worst matrix but the held ones; of
// equal means, the first matrix by name.
func (s choiceScores) worst(i int, held []string) (score, bool) {
	var worst score
	ok := false
	for _, name := range slices.Sorted(maps.Keys(s)) {
		if sc := s[name][i]; !slices.Contains(held, name) && (!ok || sc.mean > worst.mean) {
			worst, ok = sc, true
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
	choiceGrid string // the grid's scores, for the log
	choiceErr  error
)

// chosenParams scores the grid on every matrix once per test binary and
// returns the parameters chosen without the network's matrices (none:
// with every matrix). Matrices of one network are held out together: the
// Seattle slice would otherwise vouch for a choice on the Seattle median.
func chosenParams(t *testing.T, network string) estimate.Params {
	t.Helper()
	choiceOnce.Do(func() { choice, choiceGrid, choiceErr = scoreGrid() })
	require.NoError(t, choiceErr)
	var held []string
	for _, mx := range matrices {
		if mx.network == network {
			held = append(held, mx.name)
		}
	}
	i := choice.pick(held...)
	require.GreaterOrEqual(t, i, 0, "no matrix left to choose on without %s", network)
	return paramGrid()[i]
}

// scoreGrid runs the choice draws for every matrix and grid entry, one
// run per core at a time, and returns the scores and a table of them.
func scoreGrid() (choiceScores, string, error) {
	grid := paramGrid()
	type job struct{ matrix, entry int }
	loaded := make([]*Matrix, len(matrices))
	for i, mx := range matrices {
		m, err := mx.open()
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", mx.name, err)
		}
		loaded[i] = m
	}
	scores := choiceScores{}
	for _, mx := range matrices {
		scores[mx.name] = make([]score, len(grid))
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p := grid[j.entry]
				var draws []float64
				for seed := uint64(chooseFirstSeed); seed < chooseFirstSeed+chooseSeeds; seed++ {
					res, err := Run(context.Background(), loaded[j.matrix], protocol(seed, &p))
					if err != nil {
						fail(fmt.Errorf("%s, %v, seed %d: %w", matrices[j.matrix].name, p, seed, err))
						break
					}
					draws = append(draws, res.Edgeplace.MeanRTTms/res.Optimal.MeanRTTms)
				}
				if len(draws) == chooseSeeds {
					var sc score
					sc.mean, sc.stderr = meanAndStdErr(draws)
					scores[matrices[j.matrix].name][j.entry] = sc // each job its own element
				}
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
		return nil, "", firstErr
	}
	var out strings.Builder
	fmt.Fprintf(&out, "choice draws (seeds %d-%d): mean RTT over the optimum, per grid entry\n", chooseFirstSeed, chooseFirstSeed+chooseSeeds-1)
	for i, p := range grid {
		fmt.Fprintf(&out, "%2d %s", i, p)
		for _, mx := range matrices {
			fmt.Fprintf(&out, " %s %.3f±%.3f", mx.name, scores[mx.name][i].mean, scores[mx.name][i].stderr)
		}
		worst, _ := scores.worst(i, nil)
		fmt.Fprintf(&out, " worst %.4f\n", worst.mean)
	}
	return scores, out.String(), nil
}

// TestShippedParams holds the estimator's defaults to the choice made on
// every network: the choice, or worse than it on the worst matrix by no
// more than two standard errors of the difference, taken as if the two
// entries' draws were independent. They share their seeds, so that
// overstates the noise and the check is lenient; its point is that a
// grid entry clearly better than the defaults fails the test.
func TestShippedParams(t *testing.T) {
	chosenParams(t, "")
	t.Log("\n" + choiceGrid)
	best := choice.pick()
	shipped, _ := choice.worst(0, nil)
	chosen, _ := choice.worst(best, nil)
	t.Logf("chosen on every network: %v (worst matrix %.4f ± %.4f); shipped: %v (%.4f ± %.4f)",
		paramGrid()[best], chosen.mean, chosen.stderr, estimate.DefaultParams(), shipped.mean, shipped.stderr)
	assert.LessOrEqual(t, shipped.mean-chosen.mean, 2*math.Hypot(shipped.stderr, chosen.stderr),
		"the grid places better than the shipped parameters, by more than the draws' noise")
}

func TestPick(t *testing.T) {
	for name, tc := range map[string]struct {
		scores choiceScores
		held   []string
		want   int
	}{
		"clearly better": {choiceScores{"a": {{1.10, 0.01}, {1.05, 0.01}}, "b": {{1.10, 0.01}, {1.06, 0.01}}}, nil, 1},
		"within one standard error of the best: the first": {choiceScores{"a": {{1.10, 0.01}, {1.095, 0.01}}, "b": {{1.08, 0.01}, {1.07, 0.01}}}, nil, 0},
		"judged by the worst matrix, not the mean":         {choiceScores{"a": {{1.10, 0.001}, {1.00, 0.001}}, "b": {{1.10, 0.001}, {1.15, 0.001}}}, nil, 0},
		"the held matrix does not count":                   {choiceScores{"a": {{1.10, 0.001}, {1.00, 0.001}}, "b": {{1.10, 0.001}, {1.15, 0.001}}}, []string{"b"}, 1},
		"every held matrix is left out":                    {choiceScores{"a": {{1.10, 0.001}, {1.00, 0.001}}, "b": {{1.10, 0.001}, {1.15, 0.001}}, "c": {{1.10, 0.001}, {1.12, 0.001}}}, []string{"b", "c"}, 1},
		"a tie goes to the lower index":                    {choiceScores{"a": {{1.1, 0}, {1.1, 0}}}, nil, 0},
		"nothing left to choose on":                        {choiceScores{"a": {{1, 0}}}, []string{"a"}, -1},
	} {
		assert.Equal(t, tc.want, tc.scores.pick(tc.held...), name)
	}
}
