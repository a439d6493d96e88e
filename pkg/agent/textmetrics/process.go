package textmetrics

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var started = time.Now()

// writeProcess writes the process's CPU time, memory and file descriptors,
// and the Go runtime's goroutines and memory, under the names of
// Prometheus' process and Go collectors, so that the dashboards and alerts
// written for those work unchanged. A figure the system does not give is
// left out.
func writeProcess(w *bufio.Writer) {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) == nil {
		cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
		writeSample(w, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", cpu.Seconds())
	}
	if virtual, resident, ok := statm(); ok {
		writeSample(w, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", resident)
		writeSample(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", virtual)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		writeSample(w, "process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	writeSample(w, "process_start_time_seconds", "Start time of the process since unix epoch in seconds (when its metrics package was initialised).", "gauge", float64(started.UnixNano())/1e9)

	writeSample(w, "go_goroutines", "Number of goroutines that currently exist.", "gauge", float64(runtime.NumGoroutine()))
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	for _, s := range []struct {
		name, help string
		value      uint64
	}{
		{"alloc_bytes", "Number of bytes allocated in heap and currently in use.", m.Alloc},
		{"sys_bytes", "Number of bytes obtained from system.", m.Sys},
		{"heap_inuse_bytes", "Number of heap bytes that are in use.", m.HeapInuse},
		{"heap_idle_bytes", "Number of heap bytes waiting to be used.", m.HeapIdle},
		{"heap_released_bytes", "Number of heap bytes released to OS.", m.HeapReleased},
		{"heap_sys_bytes", "Number of heap bytes obtained from system.", m.HeapSys},
		{"stack_inuse_bytes", "Number of bytes in use by the stack allocator.", m.StackInuse},
		{"mspan_inuse_bytes", "Number of bytes in use by mspan structures.", m.MSpanInuse},
		{"mcache_inuse_bytes", "Number of bytes in use by mcache structures.", m.MCacheInuse},
		{"buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table.", m.BuckHashSys},
		{"gc_sys_bytes", "Number of bytes used for garbage collection system metadata.", m.GCSys},
		{"other_sys_bytes", "Number of bytes used for other system allocations.", m.OtherSys},
	} {
		writeSample(w, "go_memstats_"+s.name, s.help, "gauge", float64(s.value))
	}
	writeSample(w, "go_memstats_mallocs_total", "Total number of heap objects allocated.", "counter", float64(m.Mallocs))
}

// statm reads the process's virtual and resident size, in bytes, from
// Linux's /proc/self/statm.
func statm() (virtual, resident float64, ok bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0, 0, false
	}
	pages := make([]float64, 2)
	for i := range pages {
		n, err := strconv.ParseUint(fields[i], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		pages[i] = float64(n) * float64(os.Getpagesize())
	}
	return pages[0], pages[1], true
}
