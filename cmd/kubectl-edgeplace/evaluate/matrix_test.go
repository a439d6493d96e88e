package evaluate

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var defaultColumns = Format{Columns: Columns{From: "src", To: "dst", RTT: "ms"}}

func TestLoadCSV(t *testing.T) {
	in := "src,dst,ms,extra\n" +
		"a,b,10,x\n" +
		"b,a,14,x\n" + // the other direction: both kept
		"a,c,20,x\n" +
		"a,c,30,x\n" + // duplicate: the mean
		"c,c,1,x\n"
	m, stats, err := Load(strings.NewReader(in), defaultColumns)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, m.Places)
	at := func(from, to string) (float64, bool) {
		i, _ := m.Index(from)
		j, _ := m.Index(to)
		return m.RTT(i, j)
	}
	v, ok := at("a", "b")
	assert.True(t, ok)
	assert.Equal(t, 10.0, v)
	v, _ = at("b", "a")
	assert.Equal(t, 14.0, v)
	v, _ = at("a", "c")
	assert.Equal(t, 25.0, v)
	v, ok = at("c", "a")
	assert.True(t, ok, "a pair known one way is used both ways")
	assert.Equal(t, 25.0, v)
	_, ok = at("b", "c")
	assert.False(t, ok)
	v, _ = at("a", "a")
	assert.Equal(t, 10.0, v, "a place without its own pair gets the smallest RTT measured from it")
	v, _ = at("c", "c")
	assert.Equal(t, 1.0, v, "a measured self pair is kept")
	assert.Equal(t, "CSV", stats.Format)
	assert.Equal(t, []int{5, 1, 1, 1, 2, 2}, []int{stats.Values, stats.Slices, stats.Duplicates, stats.Mirrored, stats.Missing, stats.SelfFilled})

	w, err := m.Without("b")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c"}, w.Places)
	i, _ := w.Index("c")
	v, ok = w.RTT(0, i)
	assert.True(t, ok)
	assert.Equal(t, 25.0, v)
	_, err = m.Without("zz")
	assert.ErrorContains(t, err, `no place "zz"`)
}

func TestLoadGzipAndJSON(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("src,dst,ms\nx,y,5\n"))
	zw.Close()
	m, _, err := Load(&buf, defaultColumns)
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "y"}, m.Places)

	m, stats, err := Load(strings.NewReader(` {"x": {"y": 5, "x": 1}, "y": {"x": 7}}`), Format{})
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "y"}, m.Places)
	assert.Equal(t, 3, stats.Values)
	assert.Equal(t, 0, stats.Missing)
	assert.Equal(t, 1, stats.SelfFilled, "y to y")
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"src,dst,rtt\n", `--rtt-col: no column "ms" in the header "src,dst,rtt"`},
		{"src,dst,ms\na,b,NaN\n", `line 2: column "ms": invalid value "NaN"`},
		{"src,dst,ms\na,b,1e400\n", `line 2: column "ms": invalid value "1e400"`},
		{"src,dst,ms\na,b,-3\n", `line 2: column "ms": invalid value "-3"`},
		{"src,dst,ms\na,b,5\n,b,5\n", "line 3: empty place name"},
		{"src,dst,ms\na,b\n", "line 2: 2 fields, want at least 3"},
		{"src,dst,ms\n", "no data rows"},
		{`{"a": {"b": "fast"}}`, "want a JSON object of objects"},
		{`{"a": {"b": -1}}`, `"a" -> "b": invalid value "-1"`},
		{"0 1 2\n1 0 2\n2 2\n", "line 3: 2 values, but the first row has 3"},
		{"0 1 2\n1 0 2\n", "2 rows of 3 values: a square matrix has as many rows as values per row"},
		{"0 -1\n-1 0\n", `line 1, value 2: invalid value "-1": want a number of 0 or more; if -1 marks a missing entry, pass --missing=-1`},
		{"0 70000\n70000 0\n", "70000 ms is beyond a minute: is --unit right?"},
		{"1,2,10\n2,1,11\n2,3,5\n1,3,7\n", "4 rows of 3 values: a square matrix has as many rows as values per row (a CSV table needs a header naming its columns)"},
		{"", "no data"},
	}
	for _, tc := range tests {
		_, _, err := Load(strings.NewReader(tc.in), defaultColumns)
		assert.ErrorContains(t, err, tc.want, "input %q", tc.in)
	}
}

// at reads a pair by place names.
func at(m *Matrix, from, to string) (float64, bool) {
	i, ok1 := m.Index(from)
	j, ok2 := m.Index(to)
	if !ok1 || !ok2 {
		return math.NaN(), false
	}
	return m.RTT(i, j)
}

func TestLoadPublishedFormats(t *testing.T) {
	for name, tc := range map[string]struct {
		in     []string
		format Format
		// want holds from, to and the RTT in ms (NaN: unknown).
		want    [][3]any
		stats   func(t *testing.T, s LoadStats)
		warning string
	}{
		"a CSV matrix without its diagonal": {
			in:   []string{"src,dst,ms\na,b,10\nb,a,12\na,c,30\nc,a,31\nb,c,5\nc,b,6\n"},
			want: [][3]any{{"a", "a", 10.0}, {"b", "b", 5.0}, {"c", "c", 6.0}, {"a", "b", 10.0}},
			stats: func(t *testing.T, s LoadStats) {
				assert.Equal(t, 3, s.SelfFilled)
				assert.Contains(t, s.SelfRule, "smallest RTT measured from the place")
			},
		},
		"--self-rtt sets the self RTT": {
			in:     []string{"src,dst,ms\na,b,10\n"},
			format: Format{SelfRTT: "0.5"},
			want:   [][3]any{{"a", "a", 0.5}, {"b", "b", 0.5}, {"b", "a", 10.0}},
		},
		"a square matrix, zeros unknown": {
			in:   []string{"0 10 0\n12 0 7\n31 8 0\n"},
			want: [][3]any{{"0", "1", 10.0}, {"1", "0", 12.0}, {"0", "2", 31.0}, {"2", "0", 31.0}, {"0", "0", 10.0}, {"2", "2", 8.0}},
			stats: func(t *testing.T, s LoadStats) {
				assert.Equal(t, "square matrix", s.Format)
				assert.Equal(t, 1, s.Mirrored, "0 to 2 from 2 to 0")
			},
		},
		"a square matrix in seconds, -1 unknown": {
			in:     []string{"0 0.010 -1\n0.012 0 0.007\n-1 0.008 0\n"},
			format: Format{Unit: "s", Missing: "-1"},
			want:   [][3]any{{"0", "1", 10.0}, {"1", "2", 7.0}, {"0", "2", math.NaN()}},
			stats: func(t *testing.T, s LoadStats) {
				assert.Equal(t, 2, s.Missing)
				assert.Empty(t, s.Warnings)
			},
		},
		"a square matrix with NaN, commas and a comment": {
			in:   []string{"# hosts 0..2\n0, 10, NaN\n10, 0, 7\nnan, 7, 0\n"},
			want: [][3]any{{"0", "1", 10.0}, {"2", "1", 7.0}, {"0", "2", math.NaN()}},
		},
		"a zero is a measurement when -1 marks the unknown": {
			in:     []string{"0 0 -1\n0 0 3\n-1 3 0\n"},
			format: Format{Missing: "-1"},
			want:   [][3]any{{"0", "1", 0.0}, {"0", "0", 0.0}},
		},
		"time slices as files: each pair's median": {
			in:   []string{"0 10\n20 0\n", "0 30\n0 0\n", "0 11\n25 0\n"},
			want: [][3]any{{"0", "1", 11.0}, {"1", "0", 20.0}},
			stats: func(t *testing.T, s LoadStats) {
				assert.Equal(t, 3, s.Slices)
			},
		},
		"one time slice picked": {
			in:     []string{"0 10\n20 0\n", "0 30\n40 0\n"},
			format: Format{Slice: "2"},
			want:   [][3]any{{"0", "1", 30.0}, {"1", "0", 40.0}},
		},
		"time slices in a CSV column": {
			in:     []string{"slice,src,dst,ms\n1,a,b,10\n2,a,b,14\n3,a,b,100\n1,b,a,9\n"},
			format: Format{SliceColumn: "slice"},
			want:   [][3]any{{"a", "b", 14.0}, {"b", "a", 9.0}},
		},
		"asymmetric pairs are kept one way each": {
			in:   []string{`{"a": {"b": 10}, "b": {"a": 30}}`},
			want: [][3]any{{"a", "b", 10.0}, {"b", "a", 30.0}},
		},
		"seconds read as milliseconds are flagged": {
			in:      []string{"0 0.010\n0.012 0\n"},
			warning: "if the table is in seconds, pass --unit s",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var rs []io.Reader
			for _, in := range tc.in {
				rs = append(rs, strings.NewReader(in))
			}
			f := tc.format
			f.Columns = defaultColumns.Columns
			m, stats, err := LoadSlices(rs, f)
			require.NoError(t, err)
			for _, w := range tc.want {
				v, ok := at(m, w[0].(string), w[1].(string))
				if want := w[2].(float64); math.IsNaN(want) {
					assert.False(t, ok, "%s to %s is unknown", w[0], w[1])
				} else {
					assert.True(t, ok, "%s to %s is known", w[0], w[1])
					assert.InDelta(t, want, v, 1e-4, "%s to %s", w[0], w[1])
				}
			}
			if tc.stats != nil {
				tc.stats(t, stats)
			}
			if tc.warning != "" {
				require.Len(t, stats.Warnings, 1)
				assert.Contains(t, stats.Warnings[0], tc.warning)
			}
		})
	}
}

func TestLoadBadOptions(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		want string
	}{
		{Format{Unit: "us"}, `--unit: invalid value "us": want ms or s`},
		{Format{SelfRTT: "small"}, `--self-rtt: invalid value "small"`},
		{Format{Slice: "9"}, `--slice: invalid value "9": the input has 2 slices (1, 2)`},
	} {
		_, _, err := LoadSlices([]io.Reader{strings.NewReader("0 1\n1 0\n"), strings.NewReader("0 2\n2 0\n")}, tc.f)
		assert.ErrorContains(t, err, tc.want)
	}
	_, _, err := LoadSlices([]io.Reader{strings.NewReader("0 1\n1 0\n"), strings.NewReader("0 1 1\n1 0 1\n1 1 0\n")}, Format{})
	assert.ErrorContains(t, err, "file 2: 3 places, but the first file has 2")
}

func TestIncompleteMatrixIsNamed(t *testing.T) {
	m, _, err := Load(strings.NewReader("src,dst,ms\na,a,5\n"), defaultColumns)
	require.NoError(t, err)
	_, err = Run(context.Background(), m, Scenario{NodesPerSite: 1, SiteFraction: 0.5, Pods: 1, Seed: 1})
	assert.ErrorContains(t, err, "the table has 1 place (a): evaluate needs at least 2")

	// Without the self pairs (none can be filled: a fixed --self-rtt is
	// the only source, and here it is not given), nothing is complete.
	m = &Matrix{Places: []string{"a", "b", "c"}, index: map[string]int{"a": 0, "b": 1, "c": 2}, rtt: [][]float64{
		{math.NaN(), 10, math.NaN()}, {10, math.NaN(), 3}, {math.NaN(), 3, math.NaN()},
	}}
	err = incompleteError(m)
	assert.ErrorContains(t, err, "of 3 places, no 2 have every pair between them known: 5 of 9 ordered pairs are unknown, most of them at a (2), c (2), b (1)")
	assert.ErrorContains(t, err, "3 places have no RTT to themselves")
}
