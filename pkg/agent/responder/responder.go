// Package responder answers edgeplace probes at a landmark: TCP and UDP
// echo. A reply is never larger than its request, so the responder cannot
// amplify traffic, and each source address gets a bounded rate of replies,
// so it cannot be turned against a third party either.
package responder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/klog/v2"
)

// maxMessage bounds what one read echoes; probes send 32 bytes.
const maxMessage = 1500

// Options configure one listener.
type Options struct {
	// Network is "tcp" or "udp"; Address is where to listen ("host:port").
	Network, Address string
	// Delay is added before every reply; tests use it to stand for distance.
	Delay time.Duration
	// DelayBySource replaces Delay for the given source addresses, so that
	// one landmark can stand at different distances from different probes.
	DelayBySource map[netip.Addr]time.Duration
	// PerSourceRate and PerSourceBurst bound the replies per second to one
	// source IP. Excess UDP requests are dropped; a TCP connection that
	// exceeds it is closed.
	PerSourceRate  float64
	PerSourceBurst int
	// MaxSources bounds the per-source state; when full, the oldest-created
	// limiters are forgotten.
	MaxSources int
	// Answered, when set, is called with the source of every request
	// answered, from the goroutine serving it: a count of who probes how
	// often, for tests and load measurements.
	Answered func(source netip.Addr)
}

func (o Options) withDefaults() Options {
	if o.PerSourceRate <= 0 {
		o.PerSourceRate = 50
	}
	if o.PerSourceBurst <= 0 {
		o.PerSourceBurst = 20
	}
	if o.MaxSources <= 0 {
		o.MaxSources = 100_000
	}
	return o
}

// Listener is one running echo listener.
type Listener struct {
	opts  Options
	delay atomic.Int64
	// bySource is Options.DelayBySource, replaced whole by SetSourceDelay.
	bySource atomic.Pointer[map[netip.Addr]time.Duration]
	addr     net.Addr

	tcp net.Listener
	udp net.PacketConn

	limiters sourceLimiters

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a listener and serves until Close.
func Listen(opts Options) (*Listener, error) {
	opts = opts.withDefaults()
	l := &Listener{opts: opts, conns: map[net.Conn]struct{}{}}
	l.limiters = sourceLimiters{rate: rate.Limit(opts.PerSourceRate), burst: opts.PerSourceBurst, max: opts.MaxSources}
	l.delay.Store(int64(opts.Delay))
	bySource := maps.Clone(opts.DelayBySource)
	l.bySource.Store(&bySource)
	switch opts.Network {
	case "tcp":
		ln, err := net.Listen("tcp", opts.Address)
		if err != nil {
			return nil, err
		}
		l.tcp, l.addr = ln, ln.Addr()
		l.wg.Go(l.acceptLoop)
	case "udp":
		pc, err := net.ListenPacket("udp", opts.Address)
		if err != nil {
			return nil, err
		}
		l.udp, l.addr = pc, pc.LocalAddr()
		l.wg.Go(l.packetLoop)
	default:
		return nil, fmt.Errorf("network: unsupported value %q (want tcp or udp)", opts.Network)
	}
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.addr }

// SetSourceDelay changes the delay added before each reply to src, as
// DelayBySource sets it.
func (l *Listener) SetSourceDelay(src netip.Addr, d time.Duration) {
	for {
		old := l.bySource.Load()
		next := maps.Clone(*old)
		if next == nil {
			next = map[netip.Addr]time.Duration{}
		}
		next[src] = d
		if l.bySource.CompareAndSwap(old, &next) {
			return
		}
	}
}

// SetDelay changes the delay added before each reply.
func (l *Listener) SetDelay(d time.Duration) { l.delay.Store(int64(d)) }

// Close stops the listener, closes its connections and waits for them.
func (l *Listener) Close() error {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	var err error
	if l.tcp != nil {
		err = l.tcp.Close()
	}
	if l.udp != nil {
		err = l.udp.Close()
	}
	l.wg.Wait()
	return err
}

// Serve runs until ctx ends, then closes the listener.
func (l *Listener) Serve(ctx context.Context) error {
	<-ctx.Done()
	return l.Close()
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				klog.ErrorS(err, "Accept failed")
			}
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Go(func() { l.serveConn(c) })
	}
}

func (l *Listener) serveConn(c net.Conn) {
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		c.Close()
	}()
	src := sourceOf(c.RemoteAddr())
	buf := make([]byte, maxMessage)
	for {
		// An idle connection is dropped after a while; probes reconnect.
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		n, err := c.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				klog.V(4).InfoS("Connection ended", "source", src, "err", err)
			}
			return
		}
		if !l.limiters.allow(src) {
			klog.V(2).InfoS("Source over its rate; closing its connection", "source", src)
			return
		}
		if d := l.delayFor(src); d > 0 {
			time.Sleep(d)
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
		l.answered(src)
	}
}

func (l *Listener) packetLoop() {
	buf := make([]byte, maxMessage)
	for {
		n, from, err := l.udp.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				klog.ErrorS(err, "Read failed")
			}
			return
		}
		src := sourceOf(from)
		if !l.limiters.allow(src) {
			continue
		}
		l.answered(src)
		if d := l.delayFor(src); d > 0 {
			// Delay each reply without holding up other sources' requests.
			reply := append([]byte(nil), buf[:n]...)
			l.wg.Go(func() {
				time.Sleep(d)
				l.udp.WriteTo(reply, from)
			})
			continue
		}
		l.udp.WriteTo(buf[:n], from)
	}
}

func (l *Listener) answered(src netip.Addr) {
	if l.opts.Answered != nil {
		l.opts.Answered(src)
	}
}

func (l *Listener) delayFor(src netip.Addr) time.Duration {
	if d, ok := (*l.bySource.Load())[src]; ok {
		return d
	}
	return time.Duration(l.delay.Load())
}

func sourceOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// sourceLimiters holds one token bucket per source address, bounded in
// number.
type sourceLimiters struct {
	rate  rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	byIP  map[netip.Addr]*rate.Limiter
	order []netip.Addr // creation order, for eviction
}

func (s *sourceLimiters) allow(src netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byIP == nil {
		s.byIP = map[netip.Addr]*rate.Limiter{}
	}
	lim, ok := s.byIP[src]
	if !ok {
		if len(s.order) >= s.max {
			evict := s.order[:len(s.order)/2]
			for _, a := range evict {
				delete(s.byIP, a)
			}
			s.order = append([]netip.Addr(nil), s.order[len(evict):]...)
		}
		lim = rate.NewLimiter(s.rate, s.burst)
		s.byIP[src] = lim
		s.order = append(s.order, src)
	}
	return lim.Allow()
}
