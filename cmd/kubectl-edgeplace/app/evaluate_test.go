package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	assert.Contains(t, out, "(CSV): 7 values (0 duplicates averaged, 2 pairs mirrored, 0 unknown); 3 places with every pair known, 3 edge sites, 6 nodes")
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

// TestEvaluateSquareMatrixSlices: time slices of a square matrix without
// its diagonal, in seconds with -1 for unknown, load through the command's
// flags; the report says what the places got for their own users.
func TestEvaluateSquareMatrixSlices(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, m := range []string{
		"0 0.010 0.030\n0.011 0 -1\n0.031 0.020 0\n",
		"0 0.012 0.034\n0.011 0 0.021\n0.030 0.021 0\n",
		"0 0.500 0.032\n0.013 0 0.019\n0.029 0.022 0\n", // one slice's spike: the median ignores it
	} {
		files = append(files, filepath.Join(dir, fmt.Sprintf("slice%d.txt", i+1)))
		require.NoError(t, os.WriteFile(files[i], []byte(m), 0o644))
	}
	args := []string{"--unit", "s", "--missing", "-1", "--pods", "10", "--site-fraction", "1"}
	for _, f := range files {
		args = append(args, "--rtt", f)
	}
	out, err := runEvaluate(t, args...)
	require.NoError(t, err)
	assert.Contains(t, out, "(square matrix): 17 values in 3 time slices")
	assert.Contains(t, out, "3 places had no RTT to their own users; each got the smallest RTT measured from the place (--self-rtt min)")
	assert.Contains(t, out, "3 places with every pair known, 3 edge sites, 6 nodes")

	out, err = runEvaluate(t, append(args, "--slice", "3", "--self-rtt", "0.2", "--output", "json")...)
	require.NoError(t, err)
	assert.Contains(t, out, `"places": 3`)

	_, err = runEvaluate(t, "--rtt", files[0])
	assert.ErrorContains(t, err, `line 2, value 3: invalid value "-1": want a number of 0 or more; if -1 marks a missing entry, pass --missing=-1`)
	_, err = runEvaluate(t, "--rtt", files[0], "--missing", "-1")
	require.NoError(t, err, "sub-millisecond values load, with a warning")
	_, err = runEvaluate(t, "--rtt", files[0], "--unit", "us")
	assert.ErrorContains(t, err, `--unit: invalid value "us"`)
}

// TestEvaluateSitesCostAndPlot: with site metadata, prices and egress,
// every profile's placements are costed, and edgeplace weighs the cost
// among nodes nearly as near (within its score window): two pairs of
// neighbouring sites 0.7 ms apart, one of each pair ten times dearer, so
// edgeplace pays less than the RTT-optimal placements, which ignore price,
// at a fraction of a millisecond more. The plot is written.
func TestEvaluateSitesCostAndPlot(t *testing.T) {
	dir := t.TempDir()
	rtt := "from,to,rtt_ms\n"
	for _, p := range [][3]string{
		{"hz", "hz", "0.5"}, {"sh", "sh", "0.5"}, {"gz", "gz", "0.5"}, {"sz", "sz", "0.5"},
		{"hz", "sh", "1.2"}, {"gz", "sz", "1.2"},
		{"hz", "gz", "30"}, {"hz", "sz", "31"}, {"sh", "gz", "32"}, {"sh", "sz", "33"},
	} {
		rtt += strings.Join(p[:], ",") + "\n"
	}
	rttFile := filepath.Join(dir, "rtt.csv")
	require.NoError(t, os.WriteFile(rttFile, []byte(rtt), 0o644))
	sites := "id,lat,lon,price\nhz,30.27,120.15,10\nsh,31.23,121.47,1\ngz,23.13,113.26,10\nsz,22.54,114.06,1\n"
	sitesFile := filepath.Join(dir, "sites.csv")
	require.NoError(t, os.WriteFile(sitesFile, []byte(sites), 0o644))
	plot := filepath.Join(dir, "placements.png")
	out, err := runEvaluate(t, "--rtt", rttFile, "--sites", sitesFile, "--price-col", "price", "--egress", "100M",
		"--pods", "40", "--site-fraction", "1", "--plot", plot, "--output", "json")
	require.NoError(t, err)
	var res struct {
		Edgeplace, Stock, Optimal struct{ MeanRTTms, Cost float64 }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	t.Logf("egress cost per month: edgeplace %.0f, stock %.0f, RTT-optimal %.0f; mean RTT %.2f, %.2f, %.2f ms",
		res.Edgeplace.Cost, res.Stock.Cost, res.Optimal.Cost, res.Edgeplace.MeanRTTms, res.Stock.MeanRTTms, res.Optimal.MeanRTTms)
	assert.Positive(t, res.Stock.Cost)
	assert.Less(t, res.Edgeplace.Cost, res.Optimal.Cost, "edgeplace weighs price; the RTT optimum does not")
	assert.LessOrEqual(t, res.Edgeplace.MeanRTTms, res.Optimal.MeanRTTms+1, "and stays within a millisecond")
	assert.Less(t, res.Edgeplace.MeanRTTms, res.Stock.MeanRTTms)
	png, err := os.ReadFile(plot)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "a PNG")

	text, err := runEvaluate(t, "--rtt", rttFile, "--sites", sitesFile, "--price-col", "price", "--egress", "100M", "--pods", "10", "--site-fraction", "1")
	require.NoError(t, err)
	assert.Contains(t, text, "egress cost/month")

	_, err = runEvaluate(t, "--rtt", rttFile, "--plot", plot)
	assert.ErrorContains(t, err, "--plot: needs --sites")
	_, err = runEvaluate(t, "--rtt", rttFile, "--egress", "lots")
	assert.ErrorContains(t, err, `--egress: invalid value "lots"`)
	_, err = runEvaluate(t, "--rtt", rttFile, "--sites", sitesFile, "--lat-col", "latitude")
	assert.ErrorContains(t, err, `--lat-col: no column "latitude"`)
}
