package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// probeCostLandmarks is the landmark count the probe's own cost is asked
// at.
const probeCostLandmarks = 64

// BenchmarkProbeProcess runs the real edgeplace-probe command for one node
// at its default probe interval, budget and write policy against 64
// udp-echo landmarks (one responder on loopback), and reports what the
// process itself says once every landmark has been probed a few times: its
// share of one core over a measured stretch (process_cpu_seconds_total)
// and its resident memory (process_resident_memory_bytes), and the probes
// it sent per second, which bench/README's load model predicts. -short measures
// over 10 s instead of 60 s.
func BenchmarkProbeProcess(b *testing.B) {
	span := time.Minute
	if testing.Short() {
		span = 10 * time.Second
	}
	e, err := startEnv(b.Context(), controlplaneOptions())
	require.NoError(b, err)
	b.Cleanup(e.stop)
	f := newFixture(b, e)
	echo := f.echo("udp", 0, nil)
	for i := range probeCostLandmarks {
		f.probedLandmark(fmt.Sprintf("%s-%d", f.prefix, i), v1alpha1.ProtocolUDPEcho, echo.Addr().String())
	}
	node := f.node(f.prefix+"-node", 4, nil)
	probe := f.probeProcess(node.Name, "127.0.0.41")
	metrics := probe.metrics

	var cpu, rss, heap, rate float64
	for b.Loop() {
		// Probes enough for every landmark three times over (the default
		// --min-samples), so that the start-up is behind the measured span.
		err := wait.PollUntilContextTimeout(f.ctx, 500*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			m, err := processMetrics(metrics)
			return err == nil && m["edgeplace_probe_probes_total"] >= 3*probeCostLandmarks, nil
		})
		require.NoError(b, err, "the probe did not probe every landmark three times")
		before, err := processMetrics(metrics)
		require.NoError(b, err)
		start := time.Now()
		select {
		case <-time.After(span): // the stretch measured
		case <-f.ctx.Done():
			b.Fatal(f.ctx.Err())
		}
		after, err := processMetrics(metrics)
		require.NoError(b, err)
		elapsed := time.Since(start).Seconds()
		cpu = (after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]) / elapsed
		rss = after["process_resident_memory_bytes"]
		heap = after["go_memstats_heap_inuse_bytes"]
		b.Logf("go runtime: heap in use %.1f MiB, stacks %.1f MiB, other runtime %.1f MiB, from the OS in all %.1f MiB; goroutines %.0f",
			heap/(1<<20), after["go_memstats_stack_inuse_bytes"]/(1<<20),
			(after["go_memstats_mspan_inuse_bytes"]+after["go_memstats_mcache_inuse_bytes"]+after["go_memstats_buck_hash_sys_bytes"]+after["go_memstats_gc_sys_bytes"]+after["go_memstats_other_sys_bytes"])/(1<<20),
			after["go_memstats_sys_bytes"]/(1<<20), after["go_goroutines"])
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", probe.pid)); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if strings.HasPrefix(line, "Rss") {
					b.Log(strings.Join(strings.Fields(line), " "))
				}
			}
		}
		rate = (after["edgeplace_probe_probes_total"] - before["edgeplace_probe_probes_total"]) / elapsed
		require.Greater(b, after["edgeplace_probe_probes_total"], before["edgeplace_probe_probes_total"], "probes went on while measured")
	}
	b.ReportMetric(100*cpu, "%core")
	b.ReportMetric(rss/(1<<20), "rss-MiB")
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(rate, "probes/s")
}

// processMetrics scrapes a probe's metrics: each series summed over its
// labels.
func processMetrics(address string) (map[string]float64, error) {
	lines, err := metricLines(address)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range lines {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// A label value may hold a space: the value is the last field.
			name = name[:i]
			rest = line[strings.LastIndexByte(line, ' ')+1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, nil
}
