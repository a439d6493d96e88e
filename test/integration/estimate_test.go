package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// A node with no measurement of its own gets its site peers' median as an
// estimate, and a pod whose SLO only that estimate meets (its measured
// peers are full) lands on it; with estimates refused, it waits.
func TestSitePeerEstimate(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	f.landmark("lm-est")
	site := map[string]string{v1alpha1.SiteLabel: "est-site-a"}
	for i, d := range []time.Duration{3 * time.Millisecond, 4 * time.Millisecond} {
		name := []string{"est-a1", "est-a2"}[i]
		n := f.node(name, 1, site)
		f.publish(n, rtt{landmark: "lm-est", p90: d})
		// The measured peers are full.
		load := newPod(f.ns, "load-"+name, nil, 1000)
		load.Spec.NodeName = name
		_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, load, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	f.node("est-a3", 8, site) // no NodeNetwork at all
	far := f.node("est-b1", 8, map[string]string{v1alpha1.SiteLabel: "est-site-b"})
	f.publish(far, rtt{landmark: "lm-est", p90: 30 * time.Millisecond})
	f.syncMeasurements()

	strict := demand("lm-est", "10ms")
	strict["edgeplace.io/estimates"] = "none"
	f.pod("measured-only", strict, 500)
	msg := f.waitUnschedulable("measured-only")
	assert.NotContains(t, msg, "est-a3")

	f.pod("peer-estimate", demand("lm-est", "10ms"), 500)
	assert.Equal(t, "est-a3", f.waitBound("peer-estimate", waitTimeout), "est-a3's estimate (3.5ms) meets the SLO")
}
