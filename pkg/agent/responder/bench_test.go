package responder

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The load a responder is asked to hold: 5x the 2,500 probes a second
// that would reach each landmark at 100,000 nodes in 5,000 sites once
// site mode cuts the probing nodes (today every node probes: 18,182/s).
const targetEchoesPerSecond = 12_500

// loadSources is how many loopback source addresses the load comes from.
// One source has only ~28,000 ephemeral ports; each source stands for many
// nodes, so the per-source limit is raised out of the way (it is still
// consulted on every echo, as in production).
const loadSources = 200

// BenchmarkResponder measures one responder process on loopback:
//   - tcp-echo and udp-echo, closed loop (as fast as 64 clients can go):
//     echoes/s sustained, and the RTT the clients see, an upper bound of
//     what the responder adds (it includes the loopback and the clients);
//   - tcp-echo at targetEchoesPerSecond offered (each of 64 clients paced,
//     waiting for its echo before its next send, so a stall delays later
//     sends rather than showing in the p99), over 1,000 to
//     50,000 held connections (as many as the open-file limit allows):
//     whether it keeps up, and the RTT then, beside the same load on the
//     least an echo server can be (server=bare), the yardstick for what
//     the responder adds;
//   - memory per held connection and per tracked source.
//
// Clients and responder share the process and its cores, so the figures
// are what a responder does with half a machine at most.
func BenchmarkResponder(b *testing.B) {
	fds := openFiles(b)
	for _, network := range []string{"tcp", "udp"} {
		b.Run("network="+network+"/load=closed/server=responder", func(b *testing.B) {
			l := startLoaded(b, network)
			conns := dialMany(b, network, l.Addr().String(), 64)
			runLoad(b, conns, 0)
		})
	}
	b.Run("network=tcp/load=closed/server=bare", func(b *testing.B) {
		runLoad(b, dialMany(b, "tcp", startBare(b), 64), 0)
	})
	for _, n := range []int{1_000, 5_000, 9_000, 10_000, 50_000} {
		for _, server := range []string{"responder", "bare"} {
			name := fmt.Sprintf("network=tcp/load=%d-per-s/conns=%d/server=%s", targetEchoesPerSecond, n, server)
			b.Run(name, func(b *testing.B) {
				if testing.Short() && n > 1_000 {
					b.Skip("-short: the smallest size only")
				}
				// Both ends of every connection are in this process.
				if need := 2*n + 200; need > fds {
					b.Skipf("%d connections need %d open files; this process may hold %d", n, need, fds)
				}
				var addr string
				if server == "bare" {
					addr = startBare(b)
				} else {
					addr = startLoaded(b, "tcp").Addr().String()
				}
				var before runtime.MemStats
				readMem(&before)
				conns := dialMany(b, "tcp", addr, n)
				for _, c := range conns {
					if _, err := echoOnce(c, make([]byte, payload)); err != nil {
						b.Fatal(err)
					}
				}
				var after runtime.MemStats
				readMem(&after)
				runLoad(b, conns, targetEchoesPerSecond)
				b.ReportMetric(float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/float64(n), "B/conn")
				b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(n), "stack-B/conn")
			})
		}
	}
	b.Run("sources=100000", func(b *testing.B) {
		for b.Loop() {
			s := sourceLimiters{rate: 50, burst: 20, max: 100_000}
			var before, after runtime.MemStats
			readMem(&before)
			for i := range 100_000 {
				s.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			}
			readMem(&after)
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/100_000, "B/source")
			runtime.KeepAlive(&s)
		}
	})
}

const payload = 32 // what probes send

// startBare starts the yardstick: the least a TCP echo can be in Go, one
// goroutine per connection copying what it reads, with none of the
// responder's limits, deadlines or delays.
func startBare(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, maxMessage)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func startLoaded(b *testing.B, network string) *Listener {
	b.Helper()
	l, err := Listen(Options{Network: network, Address: "127.0.0.1:0", PerSourceRate: 1e9, PerSourceBurst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// dialMany opens n connections (UDP: connected sockets) to addr, spread
// over loadSources source addresses.
func dialMany(b *testing.B, network, addr string, n int) []net.Conn {
	b.Helper()
	conns := make([]net.Conn, 0, n)
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		src := netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i%loadSources)})
		var local net.Addr = &net.TCPAddr{IP: src.AsSlice()}
		if network == "udp" {
			local = &net.UDPAddr{IP: src.AsSlice()}
		}
		d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
		c, err := d.Dial(network, addr)
		if err != nil {
			b.Fatalf("connection %d of %d from %s: %v", i+1, n, src, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// echoOnce sends buf and reads the same number of bytes back.
func echoOnce(c net.Conn, buf []byte) (time.Duration, error) {
	start := time.Now()
	if err := c.SetDeadline(start.Add(5 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := c.Write(buf); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// runLoad makes b.N echoes from 64 clients, each on its share of conns in
// turn: as fast as they go (perSecond 0), or paced to perSecond in all. It
// reports the echoes per second achieved and the RTT's p50 and p99.
func runLoad(b *testing.B, conns []net.Conn, perSecond float64) {
	const clients = 64
	rtts := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range clients {
		var mine []net.Conn // every clients-th connection: no two clients share one
		for j := w % len(conns); j < len(conns); j += clients {
			mine = append(mine, conns[j])
		}
		share := b.N / clients
		if w < b.N%clients {
			share++
		}
		wg.Go(func() {
			buf := make([]byte, payload)
			out := make([]time.Duration, 0, share)
			var every time.Duration
			if perSecond > 0 {
				every = time.Duration(float64(time.Second) * clients / perSecond)
			}
			// Clients start spread over one period, so that paced load is even.
			next := start.Add(every * time.Duration(w) / clients)
			for i := range share {
				if every > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(every)
				}
				c := mine[i%len(mine)]
				rtt, err := echoOnce(c, buf)
				if err != nil {
					errs <- err
					return
				}
				out = append(out, rtt)
			}
			rtts[w] = out
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(rtts...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "echoes/s")
	b.ReportMetric(float64(percentile(all, 50).Microseconds()), "p50-us")
	b.ReportMetric(float64(percentile(all, 99).Microseconds()), "p99-us")
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func readMem(m *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(m)
}

// openFiles is how many files this process may hold open: the Go runtime
// has already raised the soft limit to the hard one at start-up.
func openFiles(b *testing.B) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	return int(lim.Cur)
}
