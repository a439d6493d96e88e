package evaluate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Matrix is a measured RTT table between places (countries, cloud regions,
// cities): each place is both where nodes can stand and where users are.
type Matrix struct {
	Places []string
	index  map[string]int
	rtt    [][]float64 // ms; NaN where unknown
}

// LoadStats says what a loader did with its input.
type LoadStats struct {
	Rows       int // data rows read
	Duplicates int // rows for a pair already seen; pairs keep the mean
	Mirrored   int // pairs known in one direction only, used both ways
	Missing    int // ordered pairs with no value at all
}

// Columns names the CSV columns holding the two ends and the RTT (ms).
type Columns struct {
	From, To, RTT string
}

// Load reads an RTT table: CSV with a header naming the columns (gzip
// accepted), or a JSON object of objects, {"a": {"b": 12.3}}.
func Load(r io.Reader, cols Columns) (*Matrix, LoadStats, error) {
	br, err := gunzipped(r)
	if err != nil {
		return nil, LoadStats{}, err
	}
	if first, err := peekNonSpace(br); err == nil && first == '{' {
		return loadJSON(br)
	}
	return loadCSV(br, cols)
}

// gunzipped reads r, decompressing it if it starts like gzip.
func gunzipped(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return bufio.NewReader(zr), nil
	}
	return br, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if err != nil {
			return 0, err
		}
		if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
	}
}

// builder accumulates pair values.
type builder struct {
	places map[string]int
	names  []string
	sum    map[[2]int]float64
	count  map[[2]int]int
	stats  LoadStats
}

func newBuilder() *builder {
	return &builder{places: map[string]int{}, sum: map[[2]int]float64{}, count: map[[2]int]int{}}
}

func (b *builder) place(name string) int {
	if i, ok := b.places[name]; ok {
		return i
	}
	b.places[name] = len(b.names)
	b.names = append(b.names, name)
	return len(b.names) - 1
}

func (b *builder) add(from, to string, ms float64) {
	key := [2]int{b.place(from), b.place(to)}
	if b.count[key] > 0 {
		b.stats.Duplicates++
	}
	b.sum[key] += ms
	b.count[key]++
}

func (b *builder) matrix() *Matrix {
	names := slices.Clone(b.names)
	slices.Sort(names)
	m := &Matrix{Places: names, index: map[string]int{}, rtt: make([][]float64, len(names))}
	for i, n := range names {
		m.index[n] = i
		m.rtt[i] = make([]float64, len(names))
		for j := range m.rtt[i] {
			m.rtt[i][j] = math.NaN()
		}
	}
	for key, sum := range b.sum {
		i, j := m.index[b.names[key[0]]], m.index[b.names[key[1]]]
		m.rtt[i][j] = sum / float64(b.count[key])
	}
	for i := range m.rtt {
		for j := range m.rtt[i] {
			if !math.IsNaN(m.rtt[i][j]) {
				continue
			}
			if v := m.rtt[j][i]; !math.IsNaN(v) {
				m.rtt[i][j] = v
				b.stats.Mirrored++
			} else {
				b.stats.Missing++
			}
		}
	}
	return m
}

func parseRTT(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 60_000 {
		return 0, errors.New("want a number of milliseconds in 0..60000")
	}
	return v, nil
}

func loadCSV(r io.Reader, cols Columns) (*Matrix, LoadStats, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, LoadStats{}, fmt.Errorf("reading the header: %w", err)
	}
	at := map[string]int{}
	for i, h := range header {
		at[strings.TrimSpace(h)] = i
	}
	idx := make([]int, 3)
	for k, c := range []struct{ flag, name string }{{"--from-col", cols.From}, {"--to-col", cols.To}, {"--rtt-col", cols.RTT}} {
		i, ok := at[c.name]
		if !ok {
			return nil, LoadStats{}, fmt.Errorf("%s: no column %q in the header %q", c.flag, c.name, strings.Join(header, ","))
		}
		idx[k] = i
	}
	b := newBuilder()
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, LoadStats{}, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= slices.Max(idx) {
			return nil, LoadStats{}, fmt.Errorf("line %d: %d fields, want at least %d", line, len(rec), slices.Max(idx)+1)
		}
		from, to := strings.TrimSpace(rec[idx[0]]), strings.TrimSpace(rec[idx[1]])
		if from == "" || to == "" {
			return nil, LoadStats{}, fmt.Errorf("line %d: empty place name", line)
		}
		ms, err := parseRTT(rec[idx[2]])
		if err != nil {
			return nil, LoadStats{}, fmt.Errorf("line %d: column %q: invalid value %q: %v", line, cols.RTT, rec[idx[2]], err)
		}
		b.add(from, to, ms)
		b.stats.Rows++
	}
	if len(b.names) == 0 {
		return nil, LoadStats{}, errors.New("no data rows")
	}
	m := b.matrix()
	return m, b.stats, nil
}

func loadJSON(r io.Reader) (*Matrix, LoadStats, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, LoadStats{}, err
	}
	var table map[string]map[string]json.Number
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&table); err != nil {
		return nil, LoadStats{}, fmt.Errorf("want a JSON object of objects of milliseconds: %w", err)
	}
	b := newBuilder()
	for _, from := range slices.Sorted(maps.Keys(table)) {
		for _, to := range slices.Sorted(maps.Keys(table[from])) {
			ms, err := parseRTT(table[from][to].String())
			if err != nil {
				return nil, LoadStats{}, fmt.Errorf("%q -> %q: invalid value %q: %v", from, to, table[from][to], err)
			}
			b.add(from, to, ms)
			b.stats.Rows++
		}
	}
	if len(b.names) == 0 {
		return nil, LoadStats{}, errors.New("no data")
	}
	return b.matrix(), b.stats, nil
}

// RTT returns the RTT between places i and j in ms.
func (m *Matrix) RTT(i, j int) (float64, bool) {
	v := m.rtt[i][j]
	return v, !math.IsNaN(v)
}

// Index returns a place's index.
func (m *Matrix) Index(place string) (int, bool) {
	i, ok := m.index[place]
	return i, ok
}

// Without returns the matrix without the named places (data artifacts such
// as an "unknown country" bucket); unknown names are an error.
func (m *Matrix) Without(names ...string) (*Matrix, error) {
	drop := map[int]bool{}
	for _, n := range names {
		i, ok := m.index[n]
		if !ok {
			return nil, fmt.Errorf("no place %q in the matrix", n)
		}
		drop[i] = true
	}
	out := &Matrix{index: map[string]int{}}
	var keep []int
	for i, n := range m.Places {
		if !drop[i] {
			out.index[n] = len(out.Places)
			out.Places = append(out.Places, n)
			keep = append(keep, i)
		}
	}
	out.rtt = make([][]float64, len(keep))
	for a, i := range keep {
		out.rtt[a] = make([]float64, len(keep))
		for b, j := range keep {
			out.rtt[a][b] = m.rtt[i][j]
		}
	}
	return out, nil
}
