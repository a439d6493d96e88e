package netmap

import "math"

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

// clampRTT keeps a value inside the range the CRD schema allows, so that a
// bypassed schema cannot overflow the table.
func clampRTT(us int64) int32 {
	switch {
	case us < 0:
		return 0
	case us > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(us)
}
