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
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := Load(bytes.NewReader(data), Columns{From: "src", To: "dst", RTT: "ms"})
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
