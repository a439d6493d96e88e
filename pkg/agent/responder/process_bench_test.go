package responder

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverProcessEnv makes TestEchoServerProcess serve: the test binary run
// again as the server end of BenchmarkResponderProcess.
const serverProcessEnv = "EDGEPLACE_ECHO_SERVER"

// BenchmarkResponderProcess is BenchmarkResponder's paced tcp-echo load
// with the server in a process of its own: a process holds both ends of a
// connection in BenchmarkResponder, so an open-file limit of L stops it at
// about L/2 connections, and here at about L. The server is the responder
// (or the bare echo) served by this test binary run again; the clients
// stay in this process. Memory per connection is the server process's
// own: its anonymous resident memory before the connections and after
// one echo on each.
func BenchmarkResponderProcess(b *testing.B) {
	fds := openFiles(b)
	for _, n := range []int{1_000, 10_000, 19_000, 50_000} {
		for _, server := range []string{"responder", "bare"} {
			b.Run(fmt.Sprintf("network=tcp/load=%d-per-s/conns=%d/server=%s", targetEchoesPerSecond, n, server), func(b *testing.B) {
				if testing.Short() && n > 1_000 {
					b.Skip("-short: the smallest size only")
				}
				// Each process holds one end of every connection.
				if need := n + 200; need > fds {
					b.Skipf("%d connections need %d open files in each process; a process here may hold %d", n, need, fds)
				}
				p := startServerProcess(b, server)
				before := p.anonymousResident(b)
				conns := dialMany(b, "tcp", p.addr, n)
				for _, c := range conns {
					if _, err := echoOnce(c, make([]byte, payload)); err != nil {
						b.Fatal(err)
					}
				}
				after := p.anonymousResident(b)
				runLoad(b, conns, targetEchoesPerSecond)
				b.ReportMetric(float64(after-before)/float64(n), "server-B/conn")
			})
		}
	}
}

// TestEchoServerProcess is not a test: it is the server end of
// BenchmarkResponderProcess, serving until its standard input closes.
func TestEchoServerProcess(t *testing.T) {
	server := os.Getenv(serverProcessEnv)
	if server == "" {
		t.Skip("a helper, not a test: it serves only in the process BenchmarkResponderProcess starts, with " + serverProcessEnv + " set")
	}
	var addr string
	switch server {
	case "responder":
		l, err := Listen(Options{Network: "tcp", Address: "127.0.0.1:0", PerSourceRate: 1e9, PerSourceBurst: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addr = l.Addr().String()
	case "bare":
		addr = startBare(t)
	default:
		t.Fatalf("%s=%q: want responder or bare", serverProcessEnv, server)
	}
	fmt.Println("listening", addr)
	io.Copy(io.Discard, os.Stdin)
}

type serverProcess struct {
	addr string
	pid  int
}

func startServerProcess(b *testing.B, server string) serverProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoServerProcess$")
	cmd.Env = append(os.Environ(), serverProcessEnv+"="+server)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	// The first line names the address; the scanner returns false if the
	// process exits before it.
	lines := bufio.NewScanner(stdout)
	ready := make(chan string, 1)
	go func() {
		if lines.Scan() {
			ready <- lines.Text()
		}
		close(ready)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-ready:
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found {
			b.Fatalf("the %s server process did not start: %q", server, line)
		}
		return serverProcess{addr: addr, pid: cmd.Process.Pid}
	case <-time.After(30 * time.Second):
		b.Fatalf("the %s server process did not say where it listens within 30s", server)
	}
	panic("unreachable")
}

// anonymousResident is the process's anonymous resident memory (RssAnon),
// in bytes: its heap, stacks and the runtime's own, not its binary's pages.
func (p serverProcess) anonymousResident(b *testing.B) int64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		b.Skipf("no /proc here: %v", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("RssAnon: %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no RssAnon in /proc/<pid>/status")
	return 0
}
