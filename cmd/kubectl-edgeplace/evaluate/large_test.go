package evaluate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// geoMatrix is a made-up measured matrix of n places for timing evaluate at
// a size no matrix in the tree has: places scattered over the globe, each
// ordered pair's RTT the great-circle distance at 2/3 of light speed, there
// and back, stretched by a per-pair detour of 1.2-2x, plus each end's access
// link (0.5-5 ms), with the two directions up to 10% apart. No diagonal,
// as published matrices have none.
func geoMatrix(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	lat, lon, access := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		lat[i] = math.Asin(2*rng.Float64()-1) * 180 / math.Pi
		lon[i] = 360*rng.Float64() - 180
		access[i] = 0.5 + 4.5*rng.Float64()
	}
	const kmPerMs = 200.0 // light in fibre
	var out strings.Builder
	for i := range n {
		for j := range n {
			if j > 0 {
				out.WriteByte(' ')
			}
			if i == j {
				out.WriteString("0")
				continue
			}
			p1, p2 := lat[i]*math.Pi/180, lat[j]*math.Pi/180
			dl := (lon[j] - lon[i]) * math.Pi / 180
			angle := math.Acos(min(1, math.Sin(p1)*math.Sin(p2)+math.Cos(p1)*math.Cos(p2)*math.Cos(dl)))
			km := 6371 * angle
			rtt := 2*km/kmPerMs*(1.2+0.8*rng.Float64()) + access[i] + access[j]
			fmt.Fprintf(&out, "%.1f", rtt*(0.95+0.1*rng.Float64()))
		}
		out.WriteByte('\n')
	}
	return out.String()
}

// BenchmarkEvaluate490 is one `kubectl edgeplace evaluate` of a 490-place
// square matrix without its diagonal, from its text, 2 nodes per site, with 30% of the pairs
// hidden: 200 single pods and 10 workloads of 3 replicas. sys-MiB is the
// memory the process took from the system by the end (its peak, as the
// runtime returns little of it in that time).
func BenchmarkEvaluate490(b *testing.B) {
	text := geoMatrix(490, 1)
	sc := Scenario{NodesPerSite: 2, SiteFraction: 0.5, Pods: 200, Mask: 0.3, Seed: 1,
		Replicas: 3, Workloads: 10, LandmarksPerWorkload: 12}
	for b.Loop() {
		m, _, err := Load(strings.NewReader(text), Format{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Run(context.Background(), m, sc)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Edgeplace.MeanRTTms/res.Optimal.MeanRTTms, "edgeplace/optimum")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
}
