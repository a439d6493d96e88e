package evaluate

import (
	"bufio"
	"bytes"
	"cmp"
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
	Format     string // "CSV", "JSON" or "square matrix"
	Values     int    // values read
	Slices     int    // time slices read (files, or values of the slice column)
	Duplicates int    // values for a pair already seen in the same slice; pairs keep the mean
	Mirrored   int    // pairs known in one direction only, used both ways
	Missing    int    // ordered pairs with no value at all
	// SelfFilled places had no RTT to themselves (the diagonal most
	// published matrices leave out) and got SelfRule's.
	SelfFilled int
	SelfRule   string
	// Warnings are what looks wrong but does not stop the load.
	Warnings []string
}

// Columns names the CSV columns holding the two ends and the RTT.
type Columns struct {
	From, To, RTT string
}

// Format says how to read RTT tables. The zero value reads milliseconds,
// takes 0 in a square matrix as unknown, the median of several slices,
// and gives a place without its own pair its smallest measured RTT.
type Format struct {
	Columns
	// SliceColumn, when set, is the CSV column that numbers time slices.
	SliceColumn string
	// Unit of the values: "ms" (or "") or "s".
	Unit string
	// Missing is how a square matrix marks an unknown entry: "0" (or ""),
	// "-1" or "NaN". NaN is unknown whatever it says.
	Missing string
	// Slice picks one time slice by its label (the slice column's value, or
	// the file's position from 1); "" takes each pair's median over slices.
	Slice string
	// SelfRTT is the RTT a place gets to its own users when the table has
	// no pair for it: "min" (or "", the smallest RTT measured from the
	// place) or a number of milliseconds.
	SelfRTT string
}

// Load reads one RTT table: CSV with a header naming the columns, a JSON
// object of objects ({"a": {"b": 12.3}}), or a square matrix (N lines of N
// numbers, line i measured from place i); gzip accepted.
func Load(r io.Reader, f Format) (*Matrix, LoadStats, error) {
	return LoadSlices([]io.Reader{r}, f)
}

// LoadSlices reads several tables of the same places, one time slice each,
// and keeps each pair's median (or Format.Slice's value).
func LoadSlices(rs []io.Reader, f Format) (*Matrix, LoadStats, error) {
	scale, err := f.scale()
	if err != nil {
		return nil, LoadStats{}, err
	}
	self, err := f.selfRule()
	if err != nil {
		return nil, LoadStats{}, err
	}
	b := newBuilder(scale)
	for i, r := range rs {
		where := ""
		if len(rs) > 1 {
			where = fmt.Sprintf("file %d: ", i+1)
		}
		if err := b.read(r, f, strconv.Itoa(i+1)); err != nil {
			return nil, LoadStats{}, fmt.Errorf("%s%w", where, err)
		}
	}
	if len(b.names) == 0 {
		return nil, LoadStats{}, errors.New("no data")
	}
	m, err := b.matrix(f.Slice)
	if err != nil {
		return nil, LoadStats{}, err
	}
	b.stats.SelfFilled, b.stats.SelfRule = m.fillSelf(self)
	if b.stats.maxMs > 0 && b.stats.maxMs < 1 && scale == 1 {
		b.stats.Warnings = append(b.stats.Warnings, fmt.Sprintf("every RTT is below 1 ms (the largest is %.3g): if the table is in seconds, pass --unit s", b.stats.maxMs))
	}
	return m, b.stats.LoadStats, nil
}

func (f Format) scale() (float64, error) {
	switch f.Unit {
	case "", "ms":
		return 1, nil
	case "s":
		return 1000, nil
	}
	return 0, fmt.Errorf("--unit: invalid value %q: want ms or s", f.Unit)
}

// selfRule returns the fixed self RTT in ms, or -1 for "the smallest
// measured from the place".
func (f Format) selfRule() (float64, error) {
	if f.SelfRTT == "" || f.SelfRTT == "min" {
		return -1, nil
	}
	v, err := parseRTT(f.SelfRTT, 1)
	if err != nil {
		return 0, fmt.Errorf("--self-rtt: invalid value %q: want min or a number of milliseconds in 0..60000", f.SelfRTT)
	}
	return v, nil
}

// missingTest returns whether a square matrix's entry marks an unknown
// value: NaN, or the --missing marker (as written, or as a number).
func (f Format) missingTest() func(token string) bool {
	marker := cmp.Or(f.Missing, "0")
	markerValue, markerErr := strconv.ParseFloat(marker, 64)
	return func(token string) bool {
		if token == marker || strings.EqualFold(token, "nan") {
			return true
		}
		v, err := strconv.ParseFloat(token, 64)
		return err == nil && markerErr == nil && v == markerValue
	}
}

// read adds one table to the builder, in whichever format it is.
func (b *builder) read(r io.Reader, f Format, file string) error {
	br, err := gunzipped(r)
	if err != nil {
		return err
	}
	first := peekLine(br)
	if first == "" {
		return errors.New("no data")
	}
	switch {
	case strings.HasPrefix(strings.TrimSpace(first), "{"):
		b.stats.Format = "JSON"
		return b.readJSON(br, file)
	case isNumberLine(first):
		b.stats.Format = "square matrix"
		return b.readSquare(br, f, file)
	}
	b.stats.Format = "CSV"
	return b.readCSV(br, f, file)
}

// gunzipped reads r, decompressing it if it starts like gzip.
func gunzipped(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10) // room to peek at a long first row
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return bufio.NewReaderSize(zr, 64<<10), nil
	}
	return br, nil
}

// peekLine returns the first line that is neither blank nor a comment
// (#), without consuming it (up to the reader's buffer: a longer line
// comes back cut).
func peekLine(br *bufio.Reader) string {
	buf, _ := br.Peek(br.Size()) // the whole input is read anyway
	for line := range strings.Lines(string(buf)) {
		if text := strings.TrimSpace(line); text != "" && !strings.HasPrefix(text, "#") {
			return line
		}
	}
	return ""
}

// isNumberLine says whether a line is only numbers (a square matrix's row).
func isNumberLine(line string) bool {
	fields := squareFields(line)
	for _, tok := range fields {
		if _, err := strconv.ParseFloat(tok, 64); err != nil && !strings.EqualFold(tok, "nan") {
			return false
		}
	}
	return len(fields) > 0
}

func squareFields(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' })
}

// builder accumulates pair values, by time slice.
type builder struct {
	scale  float64 // ms per unit of the input
	places map[string]int
	names  []string
	values map[[2]int][]sample
	slices map[string]int // slice label -> ordinal
	labels []string
	stats  struct {
		LoadStats
		maxMs float64
	}
}

type sample struct {
	slice int32
	ms    float32
}

func newBuilder(scale float64) *builder {
	return &builder{scale: scale, places: map[string]int{}, values: map[[2]int][]sample{}, slices: map[string]int{}}
}

func (b *builder) place(name string) int {
	if i, ok := b.places[name]; ok {
		return i
	}
	b.places[name] = len(b.names)
	b.names = append(b.names, name)
	return len(b.names) - 1
}

func (b *builder) slice(label string) int32 {
	if i, ok := b.slices[label]; ok {
		return int32(i)
	}
	b.slices[label] = len(b.labels)
	b.labels = append(b.labels, label)
	return int32(len(b.labels) - 1)
}

func (b *builder) add(from, to string, slice int32, ms float64) {
	key := [2]int{b.place(from), b.place(to)}
	vals := b.values[key]
	if n := len(vals); n > 0 && vals[n-1].slice == slice {
		b.stats.Duplicates++
	}
	b.values[key] = append(vals, sample{slice, float32(ms)})
	b.stats.Values++
	b.stats.maxMs = max(b.stats.maxMs, ms)
}

// matrix builds the table: each pair's mean within a slice, then its
// median over slices, or the value of the one slice asked for.
func (b *builder) matrix(pick string) (*Matrix, error) {
	b.stats.Slices = len(b.labels)
	want := int32(-1)
	if pick != "" {
		i, ok := b.slices[pick]
		if !ok {
			return nil, fmt.Errorf("--slice: invalid value %q: the input has %d slices (%s)", pick, len(b.labels), labelRange(b.labels))
		}
		want = int32(i)
	}
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
	var perSlice []float64
	for key, vals := range b.values {
		slices.SortStableFunc(vals, func(x, y sample) int { return cmp.Compare(x.slice, y.slice) })
		perSlice = perSlice[:0]
		for lo := 0; lo < len(vals); {
			hi, sum := lo, 0.0
			for ; hi < len(vals) && vals[hi].slice == vals[lo].slice; hi++ {
				sum += float64(vals[hi].ms)
			}
			if want < 0 || vals[lo].slice == want {
				perSlice = append(perSlice, sum/float64(hi-lo))
			}
			lo = hi
		}
		if len(perSlice) > 0 {
			m.rtt[m.index[b.names[key[0]]]][m.index[b.names[key[1]]]] = median(perSlice)
		}
	}
	for i := range m.rtt {
		for j := range m.rtt[i] {
			if !math.IsNaN(m.rtt[i][j]) || i == j {
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
	return m, nil
}

func labelRange(labels []string) string {
	if len(labels) <= 3 {
		return strings.Join(labels, ", ")
	}
	return labels[0] + " to " + labels[len(labels)-1]
}

// fillSelf gives every place without an RTT to itself the fixed value, or
// (fixed < 0) the smallest RTT measured from it; it returns how many it
// filled and the rule, for the report.
func (m *Matrix) fillSelf(fixed float64) (int, string) {
	rule := "the smallest RTT measured from the place (--self-rtt min)"
	if fixed >= 0 {
		rule = fmt.Sprintf("%g ms (--self-rtt)", fixed)
	}
	filled := 0
	for i := range m.rtt {
		if !math.IsNaN(m.rtt[i][i]) {
			continue
		}
		v := fixed
		if v < 0 {
			v = math.Inf(1)
			for j, x := range m.rtt[i] {
				if j != i && !math.IsNaN(x) {
					v = min(v, x)
				}
			}
			if math.IsInf(v, 1) {
				continue // nothing measured from it: it stays unknown
			}
		}
		m.rtt[i][i] = v
		filled++
	}
	return filled, rule
}

// parseRTT reads a value in the input's unit as milliseconds.
func parseRTT(s string, scale float64) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, errors.New("want a number of 0 or more")
	}
	if v *= scale; v > 60_000 {
		return 0, fmt.Errorf("%g ms is beyond a minute: is --unit right?", v)
	}
	return v, nil
}

func (b *builder) readCSV(r io.Reader, f Format, file string) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	at := map[string]int{}
	for i, h := range header {
		at[strings.TrimSpace(h)] = i
	}
	want := []struct{ flag, name string }{{"--from-col", f.From}, {"--to-col", f.To}, {"--rtt-col", f.RTT}}
	if f.SliceColumn != "" {
		want = append(want, struct{ flag, name string }{"--slice-col", f.SliceColumn})
	}
	idx := make([]int, len(want))
	for k, c := range want {
		i, ok := at[c.name]
		if !ok {
			return fmt.Errorf("%s: no column %q in the header %q", c.flag, c.name, strings.Join(header, ","))
		}
		idx[k] = i
	}
	fileSlice := b.slice(file)
	rows := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= slices.Max(idx) {
			return fmt.Errorf("line %d: %d fields, want at least %d", line, len(rec), slices.Max(idx)+1)
		}
		from, to := strings.TrimSpace(rec[idx[0]]), strings.TrimSpace(rec[idx[1]])
		if from == "" || to == "" {
			return fmt.Errorf("line %d: empty place name", line)
		}
		ms, err := parseRTT(rec[idx[2]], b.scale)
		if err != nil {
			return fmt.Errorf("line %d: column %q: invalid value %q: %v", line, f.RTT, rec[idx[2]], err)
		}
		slice := fileSlice
		if f.SliceColumn != "" {
			slice = b.slice(strings.TrimSpace(rec[idx[3]]))
		}
		b.add(from, to, slice, ms)
		rows++
	}
	if rows == 0 {
		return errors.New("no data rows")
	}
	return nil
}

func (b *builder) readJSON(r io.Reader, file string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var table map[string]map[string]json.Number
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&table); err != nil {
		return fmt.Errorf("want a JSON object of objects of RTTs: %w", err)
	}
	slice := b.slice(file)
	for _, from := range slices.Sorted(maps.Keys(table)) {
		for _, to := range slices.Sorted(maps.Keys(table[from])) {
			ms, err := parseRTT(table[from][to].String(), b.scale)
			if err != nil {
				return fmt.Errorf("%q -> %q: invalid value %q: %v", from, to, table[from][to], err)
			}
			b.add(from, to, slice, ms)
		}
	}
	return nil
}

// readSquare reads N lines of N numbers; line i holds the RTTs measured
// from place i, named by its index (zero-padded, so that names sort in
// order). A zero on the diagonal is no measurement: most such matrices put
// one there.
func (b *builder) readSquare(r io.Reader, f Format, file string) error {
	slice := b.slice(file)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var rows [][]string
	var lines []int
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := squareFields(text)
		if len(rows) > 0 && len(fields) != len(rows[0]) {
			return fmt.Errorf("line %d: %d values, but the first row has %d: every row of a square matrix has one value per place", line, len(fields), len(rows[0]))
		}
		rows, lines = append(rows, fields), append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	n := len(rows)
	if n == 0 {
		return errors.New("no data rows")
	}
	if len(rows[0]) != n {
		return fmt.Errorf("%d rows of %d values: a square matrix has as many rows as values per row (a CSV table needs a header naming its columns)", n, len(rows[0]))
	}
	if len(b.names) > 0 && len(b.names) != n {
		return fmt.Errorf("%d places, but the first file has %d: the slices of a matrix must have the same places", n, len(b.names))
	}
	width := len(strconv.Itoa(n - 1))
	name := func(i int) string { return fmt.Sprintf("%0*d", width, i) }
	missing := f.missingTest()
	for i, fields := range rows {
		for j, tok := range fields {
			if missing(tok) {
				continue
			}
			ms, err := parseRTT(tok, b.scale)
			if i == j && err == nil && ms == 0 {
				continue // a zero diagonal is a place's own, unmeasured
			}
			if err != nil {
				hint := ""
				if strings.HasPrefix(tok, "-") {
					hint = fmt.Sprintf("; if %s marks a missing entry, pass --missing=%s", tok, tok)
				}
				return fmt.Errorf("line %d, value %d: invalid value %q: %v%s", lines[i], j+1, tok, err, hint)
			}
			b.add(name(i), name(j), slice, ms)
		}
	}
	return nil
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
