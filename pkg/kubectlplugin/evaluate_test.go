package kubectlplugin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runEvaluate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newEvaluateCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestEvaluateJSON(t *testing.T) {
	out, err := runEvaluate(t, "--rtt", "../evaluate/testdata/aws-inter-region-p50-ms.json",
		"--pods", "30", "--replicas", "2", "--workloads", "3", "--output", "json")
	require.NoError(t, err)
	var res struct {
		Pods      int
		Compared  int
		Edgeplace struct{ MeanRTTms, Within1msOfOptimal float64 }
		Stock     struct{ MeanRTTms float64 }
		Optimal   struct{ MeanRTTms float64 }
		Replicas  struct {
			K                  int
			EdgeplaceMeanRTTms float64
			OptimalMeanRTTms   float64
			OptimalExact       bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, 30, res.Pods)
	assert.Equal(t, 30, res.Compared)
	assert.InDelta(t, res.Optimal.MeanRTTms, res.Edgeplace.MeanRTTms, 1e-9, "measured, unmasked: edgeplace places every pod on the best node")
	assert.Greater(t, res.Stock.MeanRTTms, res.Edgeplace.MeanRTTms)
	assert.Equal(t, 2, res.Replicas.K)
	assert.True(t, res.Replicas.OptimalExact)
	assert.GreaterOrEqual(t, res.Replicas.EdgeplaceMeanRTTms, res.Replicas.OptimalMeanRTTms)
}

func TestEvaluateCSVColumnsAndErrors(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "rtt.csv")
	require.NoError(t, os.WriteFile(csv, []byte("src,dst,ms\na,a,1\na,b,20\nb,b,2\nb,a,21\nc,c,1\nc,a,40\nc,b,30\n"), 0o644))
	out, err := runEvaluate(t, "--rtt", csv, "--from-col", "src", "--to-col", "dst", "--rtt-col", "ms", "--pods", "10", "--site-fraction", "1")
	require.NoError(t, err)
	assert.Contains(t, out, "7 rows (0 duplicates averaged, 2 pairs mirrored, 0 unknown); 3 places with every pair known, 3 edge sites, 6 nodes")
	assert.Contains(t, out, "edgeplace")

	_, err = runEvaluate(t, "--rtt", csv)
	assert.ErrorContains(t, err, `--from-col: no column "from"`)
	_, err = runEvaluate(t, "--rtt", csv, "--from-col", "src", "--to-col", "dst", "--rtt-col", "ms", "--output", "yaml")
	assert.ErrorContains(t, err, `--output: invalid value "yaml"`)
	_, err = runEvaluate(t, "--rtt", csv, "--from-col", "src", "--to-col", "dst", "--rtt-col", "ms", "--mask", "1.5")
	assert.ErrorContains(t, err, "mask: invalid value 1.5")
	_, err = runEvaluate(t)
	assert.ErrorContains(t, err, "--rtt: required")
}
