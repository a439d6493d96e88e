package netmap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// The map's memory per node x landmark is what it holds for 100k nodes:
// loss and jitter may add 4 bytes to it, no more.
func TestEntrySize(t *testing.T) {
	assert.EqualValues(t, 16, unsafe.Sizeof(entry{}))
}

func TestQuality(t *testing.T) {
	cases := map[string]struct {
		lossPPM, jitterUS         int64
		wantLossPPM, wantJitterUS int32
		wantEffective             int32 // p50 10 ms
	}{
		"clean":                      {0, 0, 0, 0, 10_000},
		"1% loss, 2 ms jitter":       {10_000, 2_000, 10_000, 2_000, 11_000},
		"rounded up to 0.01%, 10 us": {1, 1, 100, 10, 10_010},
		"5% loss":                    {50_000, 0, 50_000, 0, 15_000},
		"all lost":                   {1_000_000, 0, 1_000_000, 0, 110_000},
		"jitter saturates":           {0, 60_000_000, 0, 655_350, 10_000},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := New()
			m.SetLandmark("hz")
			m.SetNode("n1", nil)
			nn := measured("n1", now, map[string]int64{"hz": 10_000})
			nn.Status.Landmarks[0].LossPartsPerMillion = tc.lossPPM
			nn.Status.Landmarks[0].JitterMicroseconds = tc.jitterUS
			m.SetNodeNetwork(nn)
			m.SetState(Ready)
			v := m.Flush().View(now, ttl)
			row, ok := v.Row("n1")
			require.True(t, ok)
			lm, _ := v.Landmark("hz")

			loss, jitter, ok := v.Quality(row, lm)
			require.True(t, ok)
			assert.Equal(t, tc.wantLossPPM, loss)
			assert.Equal(t, tc.wantJitterUS, jitter)
			rtt, _ := v.RTT(row, lm, P50)
			assert.EqualValues(t, 10_000, rtt, "the RTT itself, as SLOs hold it, is not penalised")

			col := make([]int32, v.NumRows())
			v.Column(lm, P50, 0, col)
			assert.Equal(t, tc.wantEffective, col[row], "Column ranks by the effective RTT")
			mean, ok := v.MeanRTT(row, []int32{lm}, []int64{1}, P50, 0)
			require.True(t, ok)
			assert.Equal(t, col[row], mean, "MeanRTT agrees with Column")
		})
	}
}

func TestQualityStaleOrMissing(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetNode("stale", nil)
	m.SetNode("none", nil)
	m.SetNodeNetwork(measured("stale", now.Add(-2*ttl), map[string]int64{"hz": 10_000}))
	m.SetState(Ready)
	v := m.Flush().View(now, ttl)
	lm, _ := v.Landmark("hz")
	for _, node := range []string{"stale", "none"} {
		if row, ok := v.Row(node); ok {
			_, _, known := v.Quality(row, lm)
			assert.False(t, known, node)
		}
	}
}

func TestImplausibleLossAndJitter(t *testing.T) {
	for field, set := range map[string]func(*v1alpha1.LandmarkRTT){
		"lossPartsPerMillion=1000001": func(e *v1alpha1.LandmarkRTT) { e.LossPartsPerMillion = 1_000_001 },
		"lossPartsPerMillion=-1":      func(e *v1alpha1.LandmarkRTT) { e.LossPartsPerMillion = -1 },
		"jitterMicroseconds=60000001": func(e *v1alpha1.LandmarkRTT) { e.JitterMicroseconds = 60_000_001 },
	} {
		nn := measured("n1", now, map[string]int64{"hz": 10_000})
		set(&nn.Status.Landmarks[0])
		got := Implausible(nn)
		require.Len(t, got, 1, field)
		assert.Contains(t, got[0], field)
	}
}
