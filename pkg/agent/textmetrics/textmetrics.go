// Package textmetrics serves counters and gauges in Prometheus' text
// exposition format, with the process and Go runtime figures Prometheus'
// own collectors export under the same names.
//
// It exists for the probe, which runs on every node: Prometheus' client
// library and component-base's wrapper around it link protobuf, its
// descriptor registry and a template engine, several MiB of resident memory
// for a dozen series (bench/README, "The probe's own cost"). A series here
// has at most one label, which is all the probe's series need.
package textmetrics

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families in the order they were created.
type Registry struct {
	mu       sync.Mutex
	families []*Vec
}

// Vec is one metric family: a value per value of its label, or a single
// value when it has no label.
type Vec struct {
	name, help, kind, label string

	mu     sync.Mutex
	values map[string]float64
}

// Counter adds a counter family. label is the name of its one label, or
// "" for a family of one series.
func (r *Registry) Counter(name, help, label string) *Vec { return r.add(name, help, "counter", label) }

// Gauge adds a gauge family; see Counter.
func (r *Registry) Gauge(name, help, label string) *Vec { return r.add(name, help, "gauge", label) }

func (r *Registry) add(name, help, kind, label string) *Vec {
	if !validName(name) || (label != "" && !validName(label)) {
		panic(fmt.Sprintf("textmetrics: invalid metric or label name %q/%q", name, label))
	}
	v := &Vec{name: name, help: help, kind: kind, label: label, values: map[string]float64{}}
	if label == "" {
		v.values[""] = 0 // an unlabelled series exists from the start
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.families {
		if f.name == name {
			panic("textmetrics: metric " + name + " added twice")
		}
	}
	r.families = append(r.families, v)
	return v
}

// Add adds d to the series of labelValue ("" for an unlabelled family). A
// counter only goes up: a negative d panics, as in Prometheus' client.
func (v *Vec) Add(labelValue string, d float64) {
	if v.kind == "counter" && d < 0 {
		panic("textmetrics: counter " + v.name + " decreased")
	}
	v.mu.Lock()
	v.values[labelValue] += d
	v.mu.Unlock()
}

// Inc adds one to the series of labelValue.
func (v *Vec) Inc(labelValue string) { v.Add(labelValue, 1) }

// Set sets a gauge's series of labelValue to x; it panics on a counter.
func (v *Vec) Set(labelValue string, x float64) {
	if v.kind == "counter" {
		panic("textmetrics: counter " + v.name + " set")
	}
	v.mu.Lock()
	v.values[labelValue] = x
	v.mu.Unlock()
}

// Delete drops the series of labelValue.
func (v *Vec) Delete(labelValue string) {
	v.mu.Lock()
	delete(v.values, labelValue)
	v.mu.Unlock()
}

// Value is the series' value, 0 when it does not exist.
func (v *Vec) Value(labelValue string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.values[labelValue]
}

// Handler serves the registry's families, then the process's and the Go
// runtime's.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b := bufio.NewWriter(w)
		r.WriteTo(b)
		writeProcess(b)
		b.Flush()
	})
}

// WriteTo writes the registry's families: each with its help and type, its
// series sorted by label value. A labelled family with no series is left
// out, as Prometheus' client does.
func (r *Registry) WriteTo(w *bufio.Writer) {
	r.mu.Lock()
	families := slices.Clone(r.families)
	r.mu.Unlock()
	for _, f := range families {
		f.mu.Lock()
		keys := make([]string, 0, len(f.values))
		for k := range f.values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		values := make([]float64, len(keys))
		for i, k := range keys {
			values[i] = f.values[k]
		}
		f.mu.Unlock()
		if len(keys) == 0 {
			continue
		}
		writeHeader(w, f.name, f.help, f.kind)
		for i, k := range keys {
			w.WriteString(f.name)
			if f.label != "" {
				w.WriteString("{" + f.label + `="` + escapeLabel(k) + `"}`)
			}
			w.WriteByte(' ')
			w.WriteString(formatValue(values[i]))
			w.WriteByte('\n')
		}
	}
}

func writeHeader(w *bufio.Writer, name, help, kind string) {
	w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + kind + "\n")
}

func writeSample(w *bufio.Writer, name, help, kind string, value float64) {
	writeHeader(w, name, help, kind)
	w.WriteString(name + " " + formatValue(value) + "\n")
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// validName is Prometheus' rule for metric and label names (without the
// colons only recording rules should use).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
