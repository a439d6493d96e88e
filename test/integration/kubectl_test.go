package integration

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"

	kubectlapp "github.com/edgeplace/edgeplace/cmd/kubectl-edgeplace/app"
)

// kubectlEdgeplace runs `kubectl edgeplace ARGS...` against the test's API
// server.
func (f *fixture) kubectlEdgeplace(args ...string) string {
	f.t.Helper()
	cmd := kubectlapp.NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--kubeconfig", f.e.cp.KubeconfigPath(), "-n", f.ns}, args...))
	require.NoError(f.t, cmd.ExecuteContext(f.ctx), out.String())
	return out.String()
}

// update rewrites the golden files from this run's output.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// TestExplainAndTop: after the scheduler places a pod, explain shows what
// NetworkLatency recorded at decision time and a re-simulation on today's
// measurements; top shows each site's measurements. Both are compared with
// golden files, with what changes from run to run masked. The test has its
// own control plane, so that no other test's nodes show.
func TestExplainAndTop(t *testing.T) {
	_, f := ownEnv(t)
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
	f.golden("explain.golden", out)
	// The re-simulation asks the placement core NetworkLatency asked: on
	// unchanged measurements, the chosen node's weighted RTT is the one
	// recorded at decision time.
	recorded := regexp.MustCompile(`node \S+: weighted RTT (\S+) `).FindStringSubmatch(out)
	resimulated := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(near.Name) + `\s+(\S+)\s+yes\s+<- chosen$`).FindStringSubmatch(out)
	require.NotNil(t, recorded, out)
	require.NotNil(t, resimulated, out)
	assert.Equal(t, recorded[1], resimulated[1])
	// And the runner-up: the decision's next best is the re-simulation's
	// second row, with the same RTT and within the SLO.
	nextBest := regexp.MustCompile(`next best: (\S+) ([^,;\s]+)`).FindStringSubmatch(out)
	require.NotNil(t, nextBest, out)
	assert.Regexp(t, `(?m)^\s+`+regexp.QuoteMeta(nextBest[1])+`\s+`+regexp.QuoteMeta(nextBest[2])+`\s+yes[ \t]*$`, out)

	top := f.kubectlEdgeplace("top")
	t.Log("\n" + top)
	f.golden("top.golden", top)
}

// golden compares output with testdata/NAME after masking what changes
// between runs (the namespace, timestamps, ages) and the column padding
// that follows from them.
func (f *fixture) golden(name, output string) {
	f.t.Helper()
	masked := strings.ReplaceAll(output, f.ns, "NAMESPACE")
	masked = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).ReplaceAllString(masked, "TIME")
	masked = maskAges(masked)
	masked = regexp.MustCompile(`(\S)  +`).ReplaceAllString(masked, "$1  ")
	masked = regexp.MustCompile(`(?m) +$`).ReplaceAllString(masked, "")
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(f.t, os.MkdirAll("testdata", 0o755))
		require.NoError(f.t, os.WriteFile(path, []byte(masked), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(f.t, err, "run with -update to write it")
	assert.Equal(f.t, string(want), masked, "output differs from %s (run with -update to accept it)", path)
}

// ages are durations such as "12s" or "1m3s" (optionally "ago"); the
// configured TTL, printed as "older than 5m0s", is not one.
var ages = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b`)

func maskAges(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range ages.FindAllStringIndex(s, -1) {
		if strings.HasSuffix(s[:m[0]], "older than ") {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString("AGE")
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
