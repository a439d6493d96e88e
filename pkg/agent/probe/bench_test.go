package probe

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned/fake"
)

// BenchmarkProbe measures the agent's own cost, the parts a node pays for
// at every landmark:
//   - protocol=*: one probe against a responder on loopback (in this
//     process, so its side is counted too: an upper bound) and the sample
//     recorded in the landmark's window;
//   - step=publish: the publish step the agent runs every probe interval,
//     the windows' statistics for every landmark and the write policy's
//     decision, with full windows and nothing changed (the common case;
//     the write itself, at most once per write interval, is not in it);
//   - memory=windows: the heap a landmark's full window holds.
//
// At the defaults (every landmark every 5 s, a publish step every 5 s),
// the share of a core is (landmarks x probe + step) / 5 s; bench/README
// works it out.
func BenchmarkProbe(b *testing.B) {
	for _, protocol := range []v1alpha1.LandmarkProtocol{v1alpha1.ProtocolUDPEcho, v1alpha1.ProtocolTCPEcho} {
		b.Run("protocol="+string(protocol), func(b *testing.B) {
			network := "udp"
			if protocol == v1alpha1.ProtocolTCPEcho {
				network = "tcp"
			}
			// One source probing as fast as it can: the per-source limit out of the way.
			l, err := responder.Listen(responder.Options{Network: network, Address: "127.0.0.1:0", PerSourceRate: 1e9, PerSourceBurst: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			prober, err := NewProber(protocol, l.Addr().String(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer prober.Close()
			a := NewAgent(Config{}, viaClientset(fake.NewSimpleClientset()))
			p := &landmarkProbe{window: NewWindow(a.cfg.WindowSize, a.cfg.WindowAge)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				probeCtx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
				rtt, err := prober.Probe(probeCtx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				a.record("bench", p, rtt, nil)
			}
		})
	}
	for _, n := range []int{8, 64} {
		a := agentWithFullWindows(n)
		b.Run(fmt.Sprintf("landmarks=%d/step=publish", n), func(b *testing.B) {
			var st writeState
			st.policy = DefaultWritePolicy()
			now := time.Now()
			st.succeeded(now, a.Summary(now))
			b.ReportAllocs()
			for b.Loop() {
				if d := st.decide(now, a.Summary(now), false); d.Write {
					b.Fatalf("nothing changed, yet the policy writes (%s)", d.Reason)
				}
			}
		})
	}
	b.Run("landmarks=64/memory=windows", func(b *testing.B) {
		for b.Loop() {
			a := NewAgent(Config{}, viaClientset(fake.NewSimpleClientset()))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			fillWindows(a, 64)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/64, "B/landmark")
			runtime.KeepAlive(a)
		}
	})
}

// agentWithFullWindows is an agent whose n landmarks each hold a full
// window of answered probes at the default configuration.
func agentWithFullWindows(n int) *Agent {
	a := NewAgent(Config{}, viaClientset(fake.NewSimpleClientset()))
	fillWindows(a, n)
	return a
}

// fillWindows gives the agent n landmarks (their names, probes and full
// windows), as the probe loops would.
func fillWindows(a *Agent, n int) {
	now := time.Now()
	for i := range n {
		p := &landmarkProbe{window: NewWindow(a.cfg.WindowSize, a.cfg.WindowAge)}
		name := fmt.Sprintf("landmark-%d", i)
		for j := range a.cfg.WindowSize {
			at := now.Add(-time.Duration(a.cfg.WindowSize-j) * a.cfg.ProbeInterval)
			p.window.Add(Sample{At: at, RTT: time.Duration(10+i%7+j%3) * time.Millisecond})
		}
		p.lastSuccess = now
		a.landmarks[name] = p
	}
}
