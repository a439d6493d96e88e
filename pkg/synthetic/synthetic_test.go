package synthetic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func site(province, carrier string) Site {
	for _, p := range Provinces {
		if p.Name == province {
			return Site{Province: p, Carrier: carrier}
		}
	}
	panic(province)
}

func TestRTTModel(t *testing.T) {
	assert.Len(t, Provinces, 31)
	assert.Len(t, Sites(), 93)
	hz := site("zhejiang", "telecom")
	assert.Equal(t, "cn-hangzhou-telecom", hz.ID())
	assert.Equal(t, "zhejiang-telecom", hz.Population())

	local := RTT(hz, hz)
	assert.InDelta(t, float64(AccessRTT), float64(local), float64(AccessRTT)*Spread, "same site is the access RTT")

	// Hangzhou-Shanghai is ~165 km: about 2 + 2.6 ms on one carrier.
	sh := RTT(hz, site("shanghai", "telecom"))
	assert.InDelta(t, 4.6, sh.Seconds()*1000, 0.6)

	// A cross-carrier hop in the same city costs more than a same-carrier
	// hop to the next province.
	assert.Greater(t, RTT(hz, site("zhejiang", "unicom")), sh)

	// Urumqi is far from everything in the east.
	assert.Greater(t, RTT(hz, site("xinjiang", "telecom")), 35*time.Millisecond)
	assert.Equal(t, RTT(hz, site("xinjiang", "telecom")), RTT(hz, site("xinjiang", "telecom")), "deterministic")
	assert.Equal(t, 12*time.Millisecond+1800*time.Microsecond+500*time.Microsecond, P90(12*time.Millisecond))
}
