package textmetrics

import (
	"bufio"
	"io"
	"math"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteTo(t *testing.T) {
	tests := []struct {
		name string
		fill func(r *Registry)
		want string
	}{
		{
			name: "a counter's series sorted by label value",
			fill: func(r *Registry) {
				c := r.Counter("probes_total", "Probes sent.", "landmark")
				c.Inc("tokyo")
				c.Add("osaka", 2)
				c.Inc("tokyo")
			},
			want: "# HELP probes_total Probes sent.\n# TYPE probes_total counter\n" +
				"probes_total{landmark=\"osaka\"} 2\nprobes_total{landmark=\"tokyo\"} 2\n",
		},
		{
			name: "an unlabelled gauge is there before it is set",
			fill: func(r *Registry) { r.Gauge("interval_seconds", "Interval.", "") },
			want: "# HELP interval_seconds Interval.\n# TYPE interval_seconds gauge\ninterval_seconds 0\n",
		},
		{
			name: "a labelled family without series is left out, a deleted series too",
			fill: func(r *Registry) {
				r.Counter("empty_total", "Nothing.", "reason")
				g := r.Gauge("age_seconds", "Age.", "landmark")
				g.Set("a", 1.5)
				g.Set("b", 3)
				g.Delete("a")
			},
			want: "# HELP age_seconds Age.\n# TYPE age_seconds gauge\nage_seconds{landmark=\"b\"} 3\n",
		},
		{
			name: "label values and help are escaped, large and special values written as Prometheus reads them",
			fill: func(r *Registry) {
				g := r.Gauge("odd", "Back\\slash and\nnewline.", "l")
				g.Set(`a"b\c`+"\nd", 1234567)
				g.Set("inf", math.Inf(1))
				g.Set("nan", math.NaN())
			},
			want: "# HELP odd Back\\\\slash and\\nnewline.\n# TYPE odd gauge\n" +
				"odd{l=\"a\\\"b\\\\c\\nd\"} 1.234567e+06\nodd{l=\"inf\"} +Inf\nodd{l=\"nan\"} NaN\n",
		},
		{
			name: "families in the order they were added",
			fill: func(r *Registry) {
				r.Gauge("b", "B.", "").Set("", 1)
				r.Gauge("a", "A.", "").Set("", 2)
			},
			want: "# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a A.\n# TYPE a gauge\na 2\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Registry{}
			tc.fill(r)
			var out strings.Builder
			w := bufio.NewWriter(&out)
			r.WriteTo(w)
			require.NoError(t, w.Flush())
			assert.Equal(t, tc.want, out.String())
		})
	}
}

func TestInvalidNamesAndDuplicatesPanic(t *testing.T) {
	for _, tc := range []struct{ name, label string }{{"1st", ""}, {"a-b", ""}, {"", ""}, {"ok", "bad label"}} {
		assert.Panics(t, func() { (&Registry{}).Counter(tc.name, "", tc.label) }, "%q/%q", tc.name, tc.label)
	}
	r := &Registry{}
	c := r.Counter("twice_total", "", "")
	assert.Panics(t, func() { r.Gauge("twice_total", "", "") })
	assert.Panics(t, func() { c.Add("", -1) }, "a counter goes down")
	assert.Panics(t, func() { c.Set("", 3) }, "a counter is set")
	g := r.Gauge("g", "", "")
	g.Add("", -1)
	assert.Equal(t, -1.0, g.Value(""), "a gauge goes down")
}

// TestPrometheusParsesIt: Prometheus' own text parser reads the handler's
// whole output, families, types, labels and values as written.
func TestPrometheusParsesIt(t *testing.T) {
	r := &Registry{}
	c := r.Counter("edgeplace_test_probes_total", "Probes \\ sent\nby landmark.", "landmark")
	c.Add("tokyo", 3)
	c.Inc(`odd "name"` + "\n")
	r.Gauge("edgeplace_test_interval_seconds", "Interval.", "").Set("", 0.5)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	// The legacy name rules: the ones the writer itself holds names to.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)

	probes := families["edgeplace_test_probes_total"]
	require.NotNil(t, probes)
	assert.Equal(t, dto.MetricType_COUNTER, probes.GetType())
	assert.Equal(t, "Probes \\ sent\nby landmark.", probes.GetHelp())
	got := map[string]float64{}
	for _, m := range probes.GetMetric() {
		require.Len(t, m.GetLabel(), 1)
		assert.Equal(t, "landmark", m.GetLabel()[0].GetName())
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"tokyo": 3, `odd "name"` + "\n": 1}, got)
	interval := families["edgeplace_test_interval_seconds"]
	require.NotNil(t, interval)
	assert.Equal(t, dto.MetricType_GAUGE, interval.GetType())
	assert.Equal(t, 0.5, interval.GetMetric()[0].GetGauge().GetValue())
	assert.Equal(t, dto.MetricType_GAUGE, families["process_resident_memory_bytes"].GetType())
	assert.Equal(t, dto.MetricType_COUNTER, families["process_cpu_seconds_total"].GetType())
}

func TestConcurrentUpdatesAddUp(t *testing.T) {
	r := &Registry{}
	c := r.Counter("n_total", "", "k")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc("x")
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			r.WriteTo(bufio.NewWriter(io.Discard))
		}
	})
	wg.Wait()
	assert.Equal(t, 8000.0, c.Value("x"))
}

// TestHandlerServesProcessFigures: the figures dashboards and the probe's
// cost benchmark read, under Prometheus' collectors' names, every sample
// line in the text format.
func TestHandlerServesProcessFigures(t *testing.T) {
	r := &Registry{}
	r.Counter("edgeplace_test_total", "A test counter.", "").Inc("")
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	sample := regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"\})? (\S+)$`)
	values := map[string]float64{}
	for line := range strings.SplitSeq(strings.TrimSuffix(rec.Body.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		require.NotNil(t, m, "not a sample line: %q", line)
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, line)
		values[m[1]] = v
	}
	assert.Equal(t, 1.0, values["edgeplace_test_total"])
	for _, name := range []string{"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
		"process_start_time_seconds", "go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "go_memstats_stack_inuse_bytes"} {
		assert.Greater(t, values[name], 0.0, name)
	}
	assert.Contains(t, values, "process_cpu_seconds_total")
	assert.Greater(t, values["process_virtual_memory_bytes"], values["process_resident_memory_bytes"])
}
