package integration

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/kubectlplugin"
)

// kubectlEdgeplace runs `kubectl edgeplace ARGS...` against the test's API
// server.
func (f *fixture) kubectlEdgeplace(args ...string) string {
	f.t.Helper()
	cmd := kubectlplugin.NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--kubeconfig", f.e.cp.KubeconfigPath(), "-n", f.ns}, args...))
	require.NoError(f.t, cmd.ExecuteContext(f.ctx), out.String())
	return out.String()
}

// TestExplainAndTop: after the scheduler places a pod, explain shows what
// NetworkLatency recorded at decision time and a re-simulation on today's
// measurements; top shows each site's measurements.
func TestExplainAndTop(t *testing.T) {
	e := sharedEnv(t)
	f := newFixture(t, e)
	lm := f.prefix + "-users"
	f.landmark(lm)
	near := f.node(f.prefix+"-near", 4, nil)
	mid := f.node(f.prefix+"-mid", 4, nil)
	far := f.node(f.prefix+"-far", 4, nil)
	f.publish(near, rtt{landmark: lm, p90: 4 * time.Millisecond})
	f.publish(mid, rtt{landmark: lm, p90: 9 * time.Millisecond})
	f.publish(far, rtt{landmark: lm, p90: 30 * time.Millisecond})
	f.syncMeasurements()
	f.cordonBarrier()
	f.pod("api", demand(lm, "10ms"), 100)
	require.Equal(t, near.Name, f.waitBound("api", waitTimeout))

	// The decision event is written asynchronously.
	var out string
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, waitTimeout, true, func(context.Context) (bool, error) {
		out = f.kubectlEdgeplace("explain", "api")
		return strings.Contains(out, "weighted RTT"), nil
	}), out)
	t.Log("\n" + out)
	// Mask what changes from run to run: timestamps and ages.
	masked := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).ReplaceAllString(out, "TIME")
	masked = regexp.MustCompile(`\b\d+(m\d+)?s ago`).ReplaceAllString(masked, "AGE ago")
	for _, want := range []string{
		"Pod " + f.ns + "/api (scheduler edgeplace-scheduler)",
		"  node: " + near.Name,
		"  demand: " + lm + ":1   SLO: 10ms p90",
		"Recorded by NetworkLatency at decision time:",
		"  TIME  node " + near.Name + ": weighted RTT 4ms (" + lm + " 4ms measured AGE ago); SLO admitted 2 of ",
		"; next best: " + mid.Name + " 9ms",
		"Re-simulation on the measurements in the API server now (not what the scheduler saw):",
	} {
		assert.Contains(t, masked, want)
	}
	assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(lm)+`\s+1\s+4ms\s+measured\s+AGE ago$`, masked)
	assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(near.Name)+`\s+4ms\s+yes\s+<- chosen$`, masked)
	assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(far.Name)+`\s+30ms\s+no\s*$`, masked)

	top := f.kubectlEdgeplace("top")
	t.Log("\n" + top)
	assert.Regexp(t, `(?m)^SITE\s+CARRIER\s+NODES\s+MEASURED\s+ESTIMATED\s+STALE\s+NEWEST\s+OLDEST\s+MEDIAN RTT p50\s+NEAREST LANDMARK$`, top)
	assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(near.Name)+`\s+-\s+1\s+1\s+0\s+0\s+\S+\s+\S+\s+3.6ms\s+`+regexp.QuoteMeta(lm)+` 3.6ms$`, top)
}
