package probe

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

func TestDiverging(t *testing.T) {
	site := func(lm string, ms int64) v1alpha1.LandmarkRTT {
		return v1alpha1.LandmarkRTT{Landmark: lm, RTTP50Microseconds: ms * 1000, RTTP90Microseconds: ms * 1000}
	}
	own := func(ms int64) Stats { return Stats{P50: time.Duration(ms) * time.Millisecond, Answered: 3} }
	tests := []struct {
		name string
		own  Summary
		site []v1alpha1.LandmarkRTT
		want []string
	}{
		{"same", Summary{"a": own(20)}, []v1alpha1.LandmarkRTT{site("a", 20)}, nil},
		{"30 ms slower", Summary{"a": own(50)}, []v1alpha1.LandmarkRTT{site("a", 20)}, []string{"a"}},
		{"much faster", Summary{"a": own(1)}, []v1alpha1.LandmarkRTT{site("a", 20)}, []string{"a"}},
		{"over 10 ms but under half of a long path", Summary{"a": own(215)}, []v1alpha1.LandmarkRTT{site("a", 200)}, nil},
		{"over half but under 10 ms of a short path", Summary{"a": own(9)}, []v1alpha1.LandmarkRTT{site("a", 2)}, nil},
		{"measured on one side only", Summary{"b": own(90)}, []v1alpha1.LandmarkRTT{site("a", 20)}, nil},
		{"site entry without a median", Summary{"a": own(90)}, []v1alpha1.LandmarkRTT{site("a", 0)}, nil},
		{"several, sorted", Summary{"a": own(90), "b": own(20), "c": own(90)},
			[]v1alpha1.LandmarkRTT{site("c", 20), site("b", 20), site("a", 20)}, []string{"a", "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DefaultDivergence().Diverging(tc.own, tc.site))
		})
	}
}
