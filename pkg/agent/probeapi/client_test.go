package probeapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// TestApplyStatusBody: the apply names the object and its kind, and
// leaves out what the status does not set, so that a value the probe no
// longer measures (no loss now) is dropped rather than kept.
func TestApplyStatusBody(t *testing.T) {
	at := metav1.NewTime(metav1.Now().Rfc3339Copy().Time)
	egress := int64(1000)
	for _, tc := range []struct {
		name   string
		status v1alpha1.NodeNetworkStatus
		want   string
	}{{
		name:   "empty",
		status: v1alpha1.NodeNetworkStatus{},
		want:   `{"apiVersion":"edgeplace.io/v1alpha1","kind":"NodeNetwork","metadata":{"name":"n1"},"status":{}}`,
	}, {
		name: "an entry without loss or jitter, and egress",
		status: v1alpha1.NodeNetworkStatus{EgressCapacityMbps: &egress, Landmarks: []v1alpha1.LandmarkRTT{{
			Landmark: "users", RTTP50Microseconds: 1200, RTTP90Microseconds: 1500, Samples: 3, ObservedTime: at,
		}}},
		want: `{"apiVersion":"edgeplace.io/v1alpha1","kind":"NodeNetwork","metadata":{"name":"n1"},"status":{"landmarks":[` +
			`{"landmark":"users","rttP50Microseconds":1200,"rttP90Microseconds":1500,"samples":3,"observedTime":"` +
			at.UTC().Format("2006-01-02T15:04:05Z") + `"}],"egressCapacityMbps":1000}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := ApplyStatusBody("n1", &tc.status)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(body))
		})
	}
}
