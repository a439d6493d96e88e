package integration

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
)

// A bad plugin arg in the configuration stops the scheduler at start-up with
// a message that names the field.
func TestBadArgsStopStartup(t *testing.T) {
	e := sharedEnv(t)
	shipped := string(manifests.SchedulerConfig())
	tests := map[string]struct{ from, to, want string }{
		"negative TTL":   {"measurementTTL: 5m", "measurementTTL: -5m", `args.measurementTTL: Invalid value: "-5m0s"`},
		"misspelled":     {"measurementTTL: 5m", "measurmentTTL: 5m", `unknown field "measurmentTTL"`},
		"not a unit":     {"scoreWindowMin: 2ms", "scoreWindowMin: 2 ms", `args.scoreWindowMin`},
		"bad percentile": {"defaultPercentile: p90", "defaultPercentile: p95", `args.defaultPercentile: Unsupported value: "p95"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, shipped, tt.from)
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			p, err := schedulerproc.Start(ctx, schedulerproc.Options{
				Binary: schedulerBinary, Kubeconfig: e.cp.KubeconfigPath(), Dir: t.TempDir(),
				Config: []byte(strings.Replace(shipped, tt.from, tt.to, 1)), Output: &out,
			})
			if p != nil {
				p.Kill()
			}
			require.Error(t, err, "the scheduler must refuse the configuration")
			// klog quotes the error: undo its escaping before matching.
			logged := strings.ReplaceAll(out.String(), `\"`, `"`)
			assert.Contains(t, logged, tt.want)
			assert.Contains(t, logged, "NetworkLatency")
		})
	}
}

// The API server can be stopped and started again on the same address and
// certificates: existing clients and the running scheduler carry on.
func TestAPIServerRestart(t *testing.T) {
	e, f := ownEnv(t)
	f.landmark("lm-r")
	n := f.node("r-node", 8, nil)
	f.publish(n, rtt{landmark: "lm-r", p90: 4 * time.Millisecond})
	f.pod("before", demand("lm-r", "10ms"), 0)
	assert.Equal(t, "r-node", f.waitBound("before", waitTimeout))

	began := time.Now()
	require.NoError(t, e.cp.StopAPIServer())
	t.Logf("API server stopped in %s", time.Since(began).Round(time.Millisecond))
	_, err := e.kube.CoreV1().Nodes().Get(f.ctx, "r-node", metav1.GetOptions{})
	require.Error(t, err, "the API server is down")
	began = time.Now()
	require.NoError(t, e.cp.StartAPIServer(f.ctx))
	t.Logf("API server started again in %s", time.Since(began).Round(time.Millisecond))

	// Same client, same credentials; the data survived in etcd.
	_, err = e.kube.CoreV1().Nodes().Get(f.ctx, "r-node", metav1.GetOptions{})
	require.NoError(t, err)
	// The scheduler reconnects on its own and keeps placing pods.
	f.pod("after", demand("lm-r", "10ms"), 0)
	assert.Equal(t, "r-node", f.waitBound("after", waitTimeout))
}
