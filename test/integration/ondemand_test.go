package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// slowProbe are probe flags under which a probe would publish nothing for
// half an hour: three samples (--min-samples) ten minutes apart. What it
// publishes within the test it measured because it was asked to.
var slowProbe = []string{"--probe-interval=10m", "--probe-timeout=1s", "--min-samples=3"}

// TestMeasureOnDemand: a pod is placed on a node that has no NodeNetwork
// (on no measurement at all), and the scheduler asks the node's probe to
// measure the pod's landmark now. Within seconds of the binding the node's
// NodeNetwork carries that landmark, measured by the real probe command:
// through the node's own object when it has no site label, and through
// its site's object, which the scheduler creates, when it has one. A pod
// with an SLO, which no unmeasured node admits, asks while it waits and is
// placed within seconds.
func TestMeasureOnDemand(t *testing.T) {
	e := sharedEnv(t)
	for i, tc := range []struct {
		name string
		site bool
		slo  string
	}{{"own object", false, ""}, {"site object", true, ""}, {"waiting SLO pod", false, "20ms"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, e)
			l := f.echo("udp", 12*time.Millisecond, nil)
			lm := f.prefix + "-users"
			f.probedLandmark(lm, v1alpha1.ProtocolUDPEcho, l.Addr().String())
			labels := map[string]string{}
			site := f.prefix + "-site"
			if tc.site {
				labels[v1alpha1.SiteLabel] = site
				t.Cleanup(func() {
					_ = e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(context.Background(), v1alpha1.SiteObjectName(site), metav1.DeleteOptions{})
				})
			}
			node := f.node(f.prefix+"-new", 4, labels)
			metrics := f.probeProcess(node.Name, fmt.Sprintf("127.0.0.%d", 61+i), slowProbe...).metrics

			if tc.slo != "" {
				// No node's measurements admit the pod: it waits, and asks
				// for the nodes that might if measured; once measured, it is
				// placed.
				created := time.Now()
				f.pod("p", demand(lm, tc.slo), 100)
				require.Equal(t, node.Name, f.waitBound("p", waitTimeout))
				took := time.Since(created)
				t.Logf("the SLO pod was bound %s after it was created", took.Round(time.Millisecond))
				assert.Less(t, took, 10*time.Second, "within seconds")
				entry := f.waitEntry(node.Name, lm, "measured on request", measuredFrom(12*time.Millisecond))
				assert.GreaterOrEqual(t, entry.Samples, int32(3), "MinSamples probes")
				return
			}
			f.pod("p", demand(lm, ""), 100)
			require.Equal(t, node.Name, f.waitBound("p", waitTimeout))
			bound := time.Now()
			entry := f.waitEntry(node.Name, lm, "measured on request", measuredFrom(12*time.Millisecond))
			took := time.Since(bound)
			t.Logf("measured %dus (%d samples) %s after the binding", entry.RTTP50Microseconds, entry.Samples, took.Round(time.Millisecond))
			assert.GreaterOrEqual(t, entry.Samples, int32(3), "MinSamples probes")
			assert.Less(t, took, 10*time.Second, "within seconds")
			assert.Contains(t, scrape(t, metrics), `edgeplace_probe_measure_requests_total{result="taken"} 1`)
			assert.Contains(t, scrape(t, metrics), `edgeplace_probe_writes_total{reason="first"} 1`)

			if tc.site {
				nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, v1alpha1.SiteObjectName(site), metav1.GetOptions{})
				require.NoError(t, err, "the scheduler asked through the site's object")
				assert.Equal(t, v1alpha1.ScopeSite, nn.Spec.Scope)
				require.NotNil(t, nn.Spec.MeasureNow)
				assert.Equal(t, []string{lm}, nn.Spec.MeasureNow.Landmarks)
				return
			}
			nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, node.Name, metav1.GetOptions{})
			require.NoError(t, err)
			require.NotNil(t, nn.Spec.MeasureNow, "the scheduler asked through the node's own object")
			assert.Equal(t, []string{lm}, nn.Spec.MeasureNow.Landmarks)
			require.Len(t, nn.OwnerReferences, 1)
			assert.Equal(t, node.UID, nn.OwnerReferences[0].UID, "the object goes with its Node")
		})
	}
}

// measuredFrom accepts an entry measured at the responder's delay or a
// little above: three samples on a loaded machine are not a tight median,
// and no later probe comes to improve on them.
func measuredFrom(delay time.Duration) func(*v1alpha1.LandmarkRTT) bool {
	return func(e *v1alpha1.LandmarkRTT) bool {
		if e == nil {
			return false
		}
		got := time.Duration(e.RTTP50Microseconds) * time.Microsecond
		return got >= delay && got < 2*delay
	}
}
