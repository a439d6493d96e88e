package estimate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

func TestTriangleBound(t *testing.T) {
	m := netmap.New()
	m.SetLandmarkAt("x", v1alpha1.Location{City: "xcity"})
	m.SetLandmarkAt("y", v1alpha1.Location{City: "ycity"})
	m.SetLandmarkAt("z", v1alpha1.Location{City: "zcity"}) // nobody measures from z's city
	m.SetNode("in-x", map[string]string{topology.CityLabel: "xcity"})
	m.SetNode("far", map[string]string{topology.CityLabel: "rcity"})
	m.SetNodeNetwork(measured("in-x", now, map[string]int64{"x": 2000, "y": 10_000}))
	m.SetNodeNetwork(measured("far", now, map[string]int64{"x": 5000}))
	v := m.Flush().View(now, ttl)
	tri := newTriangle(v, colocation(v))
	row := func(node string) int32 {
		r, ok := v.Row(node)
		require.True(t, ok)
		return r
	}
	lm := func(name string) int32 {
		l, ok := v.Landmark(name)
		require.True(t, ok)
		return l
	}
	for name, tc := range map[string]struct {
		landmark string
		estimate int32
		want     int32
	}{
		"capped by far->x->y":                {"y", 100_000, 15_000},
		"an estimate below the path stays":   {"y", 12_000, 12_000},
		"no path through a third place":      {"z", 100_000, 100_000},
		"the landmark itself is no shortcut": {"x", 100_000, 100_000},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, tri.bound(v, row("far"), lm(tc.landmark), tc.estimate))
		})
	}
}
