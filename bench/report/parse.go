package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// results holds every value of every metric of every benchmark, by name
// without the -GOMAXPROCS suffix (several with -count).
type results map[string]map[string][]float64

// parseBench reads `go test -bench` output.
func parseBench(r io.Reader) (results, error) {
	out := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := fields[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if out[name] == nil {
			out[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			out[name][fields[i+1]] = append(out[name][fields[i+1]], v)
		}
	}
	return out, sc.Err()
}

// median of a metric, and whether it was measured.
func (r results) median(name, unit string) (float64, bool) {
	vs := r[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// e2eItem is one data item of scheduler_perf's JSON output.
type e2eItem struct {
	Data   map[string]float64 `json:"data"`
	Unit   string             `json:"unit"`
	Labels map[string]string  `json:"labels"`
}

// e2eRun is what one workload measured.
type e2eRun struct {
	throughput map[string]float64 // Average, Perc50, ...
	latencyMs  map[string]float64 // scheduling attempt duration
	batches    map[string]float64 // batch attempts by result
}

// parseE2E reads scheduler_perf's data items and the batching counters from
// dir, keyed by "<testcase>/<workload>".
func parseE2E(dir string) (map[string]*e2eRun, error) {
	runs := map[string]*e2eRun{}
	get := func(name string) *e2eRun {
		parts := strings.Split(name, "/")
		if len(parts) < 3 {
			return nil
		}
		key := parts[1] + "/" + parts[2]
		if runs[key] == nil {
			runs[key] = &e2eRun{}
		}
		return runs[key]
	}
	files, _ := filepath.Glob(filepath.Join(dir, "BenchmarkPerfScheduling_benchmark_*.json"))
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			DataItems []e2eItem `json:"dataItems"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		for _, it := range doc.DataItems {
			run := get(it.Labels["Name"])
			if run == nil {
				continue
			}
			switch it.Labels["Metric"] {
			case "SchedulingThroughput":
				run.throughput = it.Data
			case "scheduler_scheduling_attempt_duration_seconds":
				if it.Labels["result"] == "scheduled" {
					run.latencyMs = it.Data
				}
			}
		}
	}
	if f, err := os.Open(filepath.Join(dir, "batching.jsonl")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var line map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			var workload string
			_ = json.Unmarshal(line["workload"], &workload)
			run := get(workload)
			if run == nil {
				continue
			}
			for key, raw := range line {
				if key != "workload" {
					_ = json.Unmarshal(raw, &run.batches)
				}
			}
		}
	}
	return runs, nil
}
