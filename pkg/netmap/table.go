package netmap

import (
	"fmt"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Percentile indexes the RTT figures an entry keeps.
type Percentile uint8

const (
	P50 Percentile = iota
	P90
	numPercentiles
)

// entry is one node-or-site x landmark measurement. observed is the
// measurement time in Unix seconds; zero means "never measured".
type entry struct {
	rtt      [numPercentiles]int32 // microseconds
	observed uint32
}

// chunkRows rows share one copy-on-write block of the table: an update
// copies one block, not the table.
const chunkRows = 64

type chunk struct {
	// entries is width x chunkRows, landmark-major: the chunk's rows for
	// one landmark are contiguous, so that a pass over one landmark (the
	// per-pod precomputation in PreScore, the index build) reads memory in
	// order.
	entries []entry
}

// table is the dense rows x landmarks matrix. Snapshots share chunks; a
// chunk is never written after a snapshot that holds it is published.
type table struct {
	width  int
	chunks []*chunk
}

func newTable(width, rows int) table {
	t := table{width: width}
	t.grow(rows)
	return t
}

func (t *table) grow(rows int) {
	for len(t.chunks)*chunkRows < rows {
		t.chunks = append(t.chunks, &chunk{entries: make([]entry, chunkRows*t.width)})
	}
}

func (t *table) at(row int32, lm int32) *entry {
	c := t.chunks[row/chunkRows]
	return &c.entries[int(lm)*chunkRows+int(row%chunkRows)]
}

// column returns one landmark's entries for the 64 rows of chunk c.
func (t *table) column(c int, lm int32) []entry {
	off := int(lm) * chunkRows
	return t.chunks[c].entries[off : off+chunkRows]
}

// maxRTT is the largest RTT the CRD schema allows, in microseconds.
const maxRTT = 60_000_000

// plausible says whether an entry is one the CRD schema admits (0 <= p50 <=
// p90 <= 60 s, at least one sample). An API server that skipped the schema
// (or an object written before it) could carry anything; such an entry reads
// as missing rather than as a measurement.
func plausible(m *v1alpha1.LandmarkRTT) bool { return implausibility(m) == "" }

// implausibility names what makes an entry implausible, field and value,
// or returns "".
func implausibility(m *v1alpha1.LandmarkRTT) string {
	switch {
	case m.RTTP50Microseconds < 0 || m.RTTP50Microseconds > maxRTT:
		return fmt.Sprintf("rttP50Microseconds=%d is outside 0..%d", m.RTTP50Microseconds, maxRTT)
	case m.RTTP90Microseconds < 0 || m.RTTP90Microseconds > maxRTT:
		return fmt.Sprintf("rttP90Microseconds=%d is outside 0..%d", m.RTTP90Microseconds, maxRTT)
	case m.RTTP50Microseconds > m.RTTP90Microseconds:
		return fmt.Sprintf("rttP50Microseconds=%d exceeds rttP90Microseconds=%d", m.RTTP50Microseconds, m.RTTP90Microseconds)
	case m.Samples < 1:
		return fmt.Sprintf("samples=%d is below 1", m.Samples)
	}
	return ""
}

// Implausible lists the entries of a NodeNetwork that the map ignores as
// implausible, each naming its field and value, for whoever reports them.
func Implausible(nn *v1alpha1.NodeNetwork) []string {
	var out []string
	for i := range nn.Status.Landmarks {
		if why := implausibility(&nn.Status.Landmarks[i]); why != "" {
			out = append(out, fmt.Sprintf("status.landmarks[%d] (%s): %s", i, nn.Status.Landmarks[i].Landmark, why))
		}
	}
	return out
}
