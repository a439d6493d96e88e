package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	demoapp "github.com/edgeplace/edgeplace/cmd/edgeplace-demo/app"
)

// TestDemoScenario runs `make demo`'s scenario at a small size (only the
// provinces the workloads serve, one node per site) on its own control
// plane: edgeplace's users get lower RTT than the stock profile's, and no
// workload is placed beyond an SLO that some site meets; the rebalancing
// step moves a replica off a degraded site.
func TestDemoScenario(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "placements.png")
	report, err := demoapp.Run(t.Context(), demoapp.Options{SchedulerBinary: schedulerBinary, DeschedulerBinary: deschedulerBinary, NodesPerSite: 1, Plot: plot})
	require.NoError(t, err)
	var out testWriter
	report.Print(&out)
	t.Log("\n" + string(out))

	assert.Less(t, report.Edgeplace.MeanRTT, report.Stock.MeanRTT)
	assert.Zero(t, report.Edgeplace.SLOViolations)
	for _, w := range report.Workloads {
		nodes := report.Edgeplace.Nodes[w.Name]
		if w.Name == "ar-assist" {
			assert.Empty(t, nodes, "no site meets 1ms")
			assert.Contains(t, report.Edgeplace.Pending[w.Name], "no node within 1ms p90 of xinjiang-telecom")
			continue
		}
		assert.Len(t, nodes, max(1, w.Replicas), w.Name)
	}
	sites := map[string]bool{}
	for _, n := range report.Edgeplace.Nodes["cdn-cache"] {
		sites[n[:len(n)-2]] = true
	}
	assert.Len(t, sites, 3, "the cache's replicas cover three areas")

	// The rebalancing step moved the replica off the degraded site, to a
	// node within the SLO.
	rb := report.Rebalancing
	require.NotNil(t, rb)
	assert.NotContains(t, rb.After, rb.Moved)
	assert.Contains(t, rb.Note, "beyond its 8.0ms SLO")
	for _, node := range rb.After {
		assert.LessOrEqual(t, rb.RTT[node], 8*time.Millisecond, "every replica within the SLO after the move: %v", rb.After)
		assert.Positive(t, rb.RTT[node], "measured")
	}

	info, err := os.Stat(plot)
	require.NoError(t, err)
	assert.Greater(t, info.Size(), int64(10_000), "a chart was drawn")
}

type testWriter []byte

func (w *testWriter) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }
