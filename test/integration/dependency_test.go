package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// A pod that depends on a database lands in the site with the lowest
// measured RTT to the database's site, through site landmarks (a responder
// per site, so probes measure site-to-site RTT).
func TestDependencyLatency(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	sites := []string{"dep-s1", "dep-s2", "dep-s3"}
	for _, site := range sites {
		_, err := f.e.edge.EdgeplaceV1alpha1().Landmarks().Create(f.ctx, &v1alpha1.Landmark{
			ObjectMeta: metav1.ObjectMeta{Name: "site-" + site, Labels: f.testLabel()},
			Spec:       v1alpha1.LandmarkSpec{Addresses: []string{"192.0.2.9:7"}, Location: v1alpha1.Location{Site: site}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// Site-to-site RTT (ms): s2 is far from s1, nearer to s3.
	ms := map[string]map[string]float64{
		"dep-s1": {"dep-s1": 0.5, "dep-s2": 20, "dep-s3": 8},
		"dep-s2": {"dep-s1": 20, "dep-s2": 0.5, "dep-s3": 6},
		"dep-s3": {"dep-s1": 8, "dep-s2": 6, "dep-s3": 0.5},
	}
	nodes := map[string]string{"dep-db": "dep-s2", "dep-n1": "dep-s1", "dep-n3": "dep-s3", "dep-n2": "dep-s2"}
	for name, site := range nodes {
		n := f.node(name, 4, map[string]string{v1alpha1.SiteLabel: site})
		var m []rtt
		for _, other := range sites {
			m = append(m, rtt{landmark: "site-" + other, p90: time.Duration(ms[site][other] * float64(time.Millisecond))})
		}
		f.publish(n, m...)
	}
	f.syncMeasurements()
	f.cordonBarrier()

	// The database runs in dep-s2, on a node that is now full.
	db := newPod(f.ns, "db", nil, 4000)
	db.Labels = map[string]string{"app": "db"}
	db.Spec.NodeName = "dep-db"
	_, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, db, metav1.CreateOptions{})
	require.NoError(t, err)

	f.pod("api", map[string]string{"edgeplace.io/depends-on": "app=db"}, 500)
	assert.Equal(t, "dep-n2", f.waitBound("api", waitTimeout), "the other node in the database's site")

	// With dep-s2 full too, the next best site for the database is dep-s3.
	f.pod("filler", map[string]string{"edgeplace.io/depends-on": "app=db"}, 3500)
	assert.Equal(t, "dep-n2", f.waitBound("filler", waitTimeout))
	f.pod("api-2", map[string]string{"edgeplace.io/depends-on": "app=db", "edgeplace.io/depends-on-max-rtt": "7ms"}, 500)
	assert.Equal(t, "dep-n3", f.waitBound("api-2", waitTimeout))
	f.pod("api-3", map[string]string{"edgeplace.io/depends-on": "app=db", "edgeplace.io/depends-on-max-rtt": "5ms"}, 3900)
	assert.Contains(t, f.waitUnschedulable("api-3"), "the workload it depends on")
}
