package evaluate

import (
	"bytes"
	"math"
	"testing"
)

// FuzzLoad: any input gives a matrix or an error, never a panic, and a
// matrix only holds RTTs the loader promises (0..60,000 ms, finite).
func FuzzLoad(f *testing.F) {
	f.Add([]byte("src,dst,ms\na,b,10\nb,a,12\na,a,1\n"))
	f.Add([]byte("src,dst,ms\na,b,NaN\n"))
	f.Add([]byte("src,dst,ms\n\"a,\"\"b\",c,1e400\n"))
	f.Add([]byte(`{"x": {"y": 5, "x": 1}}`))
	f.Add([]byte(`{"x": {"y": -1}}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte("src,dst,ms\na,b,10\nb,c,5\n"))        // no diagonal
	f.Add([]byte("0 10 0\n12 0 7\n31 8 0\n"))           // a square matrix
	f.Add([]byte("0, 10, NaN\n10, 0, -1\nnan, 7, 0\n")) // NaN, commas, a negative
	f.Add([]byte("0 1 2\n1 0\n"))                       // a ragged row
	f.Add([]byte("0 0.01\n0.01 0\n"))                   // seconds
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := Load(bytes.NewReader(data), Format{Columns: Columns{From: "src", To: "dst", RTT: "ms"}})
		if err != nil {
			return
		}
		for i := range m.Places {
			for j := range m.Places {
				if v, ok := m.RTT(i, j); ok && (math.IsInf(v, 0) || v < 0 || v > 60_000) {
					t.Fatalf("RTT %v between %q and %q", v, m.Places[i], m.Places[j])
				}
			}
		}
	})
}

// FuzzLoadSites: any input gives site metadata or an error, never a panic,
// and metadata only holds values the loader promises.
func FuzzLoadSites(f *testing.F) {
	f.Add([]byte("id,lat,lon,price\neu-west-1,53.35,-6.26,0.09\n"))
	f.Add([]byte("id,lat,lon,price\na,1e400,-Inf,NaN\n"))
	f.Add([]byte("id,lat,lon,price\na,1,1,1\na,1,1,1\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		sites, err := LoadSites(bytes.NewReader(data), SiteColumns{ID: "id", Lat: "lat", Lon: "lon", Price: "price"})
		if err != nil {
			return
		}
		for id, s := range sites {
			if id == "" || !s.HasLocation || !s.HasPrice || math.Abs(s.Lat) > 90 || math.Abs(s.Lon) > 180 ||
				s.Price < 0 || math.IsNaN(s.Price) || math.IsInf(s.Price, 0) {
				t.Fatalf("site %q: %+v", id, s)
			}
		}
	})
}
