package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// The CRD schema keeps garbage out of the API: each bad NodeNetwork or
// Landmark is refused with a message that names the field.
func TestCRDRejectsGarbage(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	api := f.e.edge.EdgeplaceV1alpha1()
	entry := func(mutate func(*v1alpha1.LandmarkRTT)) v1alpha1.LandmarkRTT {
		e := v1alpha1.LandmarkRTT{
			Landmark: "lm", RTTP50Microseconds: 1000, RTTP90Microseconds: 2000,
			Samples: 10, ObservedTime: metav1.NewTime(time.Now()),
		}
		mutate(&e)
		return e
	}
	statusCases := map[string]struct {
		entries []v1alpha1.LandmarkRTT
		want    string
	}{
		"negative RTT":    {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.RTTP50Microseconds = -1 })}, "status.landmarks[0].rttP50Microseconds: Invalid value: -1"},
		"RTT over 60s":    {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.RTTP90Microseconds = 60_000_001 })}, "status.landmarks[0].rttP90Microseconds: Invalid value: 60000001"},
		"loss over 100%":  {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.LossPartsPerMillion = 1_000_001 })}, "status.landmarks[0].lossPartsPerMillion"},
		"p50 above p90":   {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.RTTP50Microseconds = 5000 })}, "rttP50Microseconds must not exceed rttP90Microseconds"},
		"no samples":      {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.Samples = 0 })}, "status.landmarks[0].samples"},
		"empty landmark":  {[]v1alpha1.LandmarkRTT{entry(func(e *v1alpha1.LandmarkRTT) { e.Landmark = "" })}, "status.landmarks[0].landmark"},
		"duplicate entry": {[]v1alpha1.LandmarkRTT{entry(func(*v1alpha1.LandmarkRTT) {}), entry(func(*v1alpha1.LandmarkRTT) {})}, "status.landmarks[1]: Duplicate value"},
	}
	for name, tt := range statusCases {
		t.Run(name, func(t *testing.T) {
			nn, err := api.NodeNetworks().Create(f.ctx, &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{
				GenerateName: "garbage-", Labels: f.testLabel(),
			}}, metav1.CreateOptions{})
			require.NoError(t, err)
			nn.Status.Landmarks = tt.entries
			_, err = api.NodeNetworks().UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("site scope without site", func(t *testing.T) {
		_, err := api.NodeNetworks().Create(f.ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "garbage-", Labels: f.testLabel()},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite},
		}, metav1.CreateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spec.site is required when scope is Site")
	})
	t.Run("site on a node-scoped object", func(t *testing.T) {
		_, err := api.NodeNetworks().Create(f.ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "garbage-", Labels: f.testLabel()},
			Spec:       v1alpha1.NodeNetworkSpec{Site: "cn-hangzhou-telecom"},
		}, metav1.CreateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "forbidden when scope is Node")
	})
	t.Run("defaults", func(t *testing.T) {
		nn, err := api.NodeNetworks().Create(f.ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "fine-", Labels: f.testLabel()},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, v1alpha1.ScopeNode, nn.Spec.Scope)
	})
	t.Run("landmark protocol", func(t *testing.T) {
		_, err := api.Landmarks().Create(f.ctx, &v1alpha1.Landmark{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "lm-", Labels: f.testLabel()},
			Spec:       v1alpha1.LandmarkSpec{Addresses: []string{"192.0.2.1:7"}, Protocol: "carrier-pigeon"},
		}, metav1.CreateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `spec.protocol: Unsupported value: "carrier-pigeon"`)
		_, err = api.Landmarks().Create(f.ctx, &v1alpha1.Landmark{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "lm-", Labels: f.testLabel()},
		}, metav1.CreateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spec.addresses")
	})
}

// The shipped examples pass the real API server's schema (server-side dry
// run).
func TestExamplesPassTheSchema(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for _, file := range []string{"landmarks.yaml", "latencyprofile.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "manifests", "examples", file))
		require.NoError(t, err)
		for _, doc := range strings.Split(string(data), "\n---\n") {
			if strings.Contains(doc, "kind: Landmark\n") {
				lm := &v1alpha1.Landmark{}
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), lm))
				_, err = f.e.edge.EdgeplaceV1alpha1().Landmarks().Create(f.ctx, lm, dryRun)
			} else {
				lp := &v1alpha1.LatencyProfile{}
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), lp))
				lp.Namespace = f.ns
				_, err = f.e.edge.EdgeplaceV1alpha1().LatencyProfiles(f.ns).Create(f.ctx, lp, dryRun)
			}
			assert.NoError(t, err, file)
		}
	}
}
