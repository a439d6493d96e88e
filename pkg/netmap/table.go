package netmap

import (
	"fmt"
	"math"

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
// measurement time in Unix seconds; zero means "never measured". Loss and
// jitter ride in the 4 bytes that round the entry up to 16, rounded up to
// their units so that a bound never passes what was measured above it.
type entry struct {
	rtt      [numPercentiles]int32 // microseconds
	observed uint32
	loss     uint16 // lossUnitPPM parts per million
	jitter   uint16 // jitterUnitUS microseconds, saturating
}

// The units of an entry's loss and jitter: 0.01% and 10 us. Jitter
// saturates at about 655 ms, far above any bound a pod would state.
const (
	lossUnitPPM  = 100
	jitterUnitUS = 10
)

func lossUnits(ppm int64) uint16 {
	return uint16(min((max(ppm, 0)+lossUnitPPM-1)/lossUnitPPM, 1_000_000/lossUnitPPM))
}

func jitterUnits(us int64) uint16 {
	return uint16(min((max(us, 0)+jitterUnitUS-1)/jitterUnitUS, math.MaxUint16))
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
// p90 <= 60 s, loss at most all, jitter at most 60 s, at least one sample). An API server that skipped the schema
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
	case m.LossPartsPerMillion < 0 || m.LossPartsPerMillion > 1_000_000:
		return fmt.Sprintf("lossPartsPerMillion=%d is outside 0..1000000", m.LossPartsPerMillion)
	case m.JitterMicroseconds < 0 || m.JitterMicroseconds > maxRTT:
		return fmt.Sprintf("jitterMicroseconds=%d is outside 0..%d", m.JitterMicroseconds, maxRTT)
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
