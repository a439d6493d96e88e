package synthetic

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Landmark is the Landmark object standing for a site's users.
func Landmark(users Site) *v1alpha1.Landmark {
	return &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: users.Population()},
		Spec: v1alpha1.LandmarkSpec{
			Addresses: []string{"landmark." + users.ID() + ".example:7"},
			Location:  v1alpha1.Location{Province: users.Province.Name, City: users.Province.City, Carrier: users.Carrier},
		},
	}
}

// Measurements is what a probe at site from would publish for the given
// users: the model's RTT as p50, P90 of it as p90, observed at the given time.
func Measurements(from Site, users []Site, observed time.Time) []v1alpha1.LandmarkRTT {
	out := make([]v1alpha1.LandmarkRTT, len(users))
	for i, u := range users {
		p50 := RTT(from, u)
		out[i] = v1alpha1.LandmarkRTT{
			Landmark:           u.Population(),
			RTTP50Microseconds: p50.Microseconds(),
			RTTP90Microseconds: P90(p50).Microseconds(),
			Samples:            30,
			ObservedTime:       metav1.NewTime(observed),
		}
	}
	return out
}

// NodeNetwork is a node's NodeNetwork with the given p50 RTT (microseconds)
// per landmark, p90 10% above it, observed at the given time.
func NodeNetwork(node string, observed time.Time, p50 map[string]int64) *v1alpha1.NodeNetwork {
	nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: node}}
	for lm, us := range p50 {
		nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
			Landmark: lm, RTTP50Microseconds: us, RTTP90Microseconds: us + us/10,
			Samples: 10, ObservedTime: metav1.NewTime(observed),
		})
	}
	return nn
}
