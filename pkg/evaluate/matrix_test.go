package evaluate

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var defaultColumns = Columns{From: "src", To: "dst", RTT: "ms"}

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
	assert.Equal(t, LoadStats{Rows: 5, Duplicates: 1, Mirrored: 1, Missing: 4}, stats)

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

	m, stats, err := Load(strings.NewReader(` {"x": {"y": 5, "x": 1}, "y": {"x": 7}}`), Columns{})
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "y"}, m.Places)
	assert.Equal(t, 3, stats.Rows)
	assert.Equal(t, 1, stats.Missing, "y to y")
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
	}
	for _, tc := range tests {
		_, _, err := Load(strings.NewReader(tc.in), defaultColumns)
		assert.ErrorContains(t, err, tc.want, "input %q", tc.in)
	}
}
