package probe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Config says how an agent probes. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// ProbeInterval is the mean time between two probes of one landmark;
	// each wait is jittered by up to 20% so that probes of many nodes do
	// not arrive in step.
	ProbeInterval time.Duration
	// Timeout bounds one probe; a probe not answered in time is a loss.
	Timeout time.Duration
	// Budget caps this node's probes per second over all landmarks. With
	// more landmarks than the budget allows at ProbeInterval, each
	// landmark's interval is stretched (Agent.Interval) rather than any
	// landmark dropped.
	Budget float64
	// WindowSize and WindowAge bound each landmark's window: the last
	// WindowSize samples, of which those younger than WindowAge count.
	WindowSize int
	WindowAge  time.Duration
	// MinSamples is how many answered probes a landmark's window needs
	// before it is published; one sample is not a median.
	MinSamples int
	// Source, when set, is the local address probes are sent from.
	Source net.IP
	// Clock drives the probe and publish loops.
	Clock clock.WithTicker
}

// DefaultConfig probes each landmark every 5s and summarises the last
// 5 minutes.
func DefaultConfig() Config {
	return Config{
		ProbeInterval: 5 * time.Second,
		Timeout:       2 * time.Second,
		Budget:        20,
		WindowSize:    60,
		WindowAge:     5 * time.Minute,
		MinSamples:    3,
		Clock:         clock.RealClock{},
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = d.ProbeInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.Budget <= 0 {
		c.Budget = d.Budget
	}
	if c.WindowSize <= 0 {
		c.WindowSize = d.WindowSize
	}
	if c.WindowAge <= 0 {
		c.WindowAge = d.WindowAge
	}
	if c.MinSamples <= 0 {
		c.MinSamples = d.MinSamples
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	return c
}

// Agent probes every Landmark of the cluster and keeps one window per
// landmark. Summary reads the windows; a Publisher writes the summaries.
type Agent struct {
	cfg     Config
	api     API
	limiter *rate.Limiter

	mu        sync.Mutex
	landmarks map[string]*landmarkProbe
	wg        sync.WaitGroup
	// interval is the base time between two probes of one landmark
	// (nanoseconds), before jitter: ProbeInterval, or longer when the
	// budget binds, times slowdown.
	interval atomic.Int64
	// slowdown divides the probe rate (a.mu): 1 is the full rate; a site
	// follower samples at 1/slowdown of it.
	slowdown int
	// full is the interval at the full rate (a.mu).
	full time.Duration
	// rateChanged is closed, and replaced, when the interval changes, so
	// that probe loops waiting out a long interval start the new one now.
	rateChanged chan struct{}
	// measuring holds the landmarks MeasureNow is probing (a.mu); measured
	// is closed, and replaced, when it has fresh measurements.
	measuring map[string]bool
	measured  chan struct{}
	// synced is closed once the landmarks of the cluster are known, so that
	// a request on hand at start-up is not answered with none of them.
	synced chan struct{}
}

// landmarkProbe is one landmark's probe loop and window.
type landmarkProbe struct {
	spec   v1alpha1.LandmarkSpec
	cancel context.CancelFunc

	mu          sync.Mutex
	window      *Window
	lastSuccess time.Time
}

// NewAgent returns an agent that reads Landmarks through api.
func NewAgent(cfg Config, api API) *Agent {
	cfg = cfg.withDefaults()
	a := &Agent{
		cfg:         cfg,
		api:         api,
		limiter:     rate.NewLimiter(rate.Limit(cfg.Budget), max(1, int(cfg.Budget))),
		landmarks:   map[string]*landmarkProbe{},
		slowdown:    1,
		rateChanged: make(chan struct{}),
		measuring:   map[string]bool{},
		measured:    make(chan struct{}),
		synced:      make(chan struct{}),
	}
	a.setIntervalLocked()
	return a
}

// Interval is the base time between two probes of one landmark, before
// the jitter of up to +20%: ProbeInterval, or, when the landmarks at
// ProbeInterval would need more than the budget, as long as keeps every
// landmark probed within it; times the slowdown (SetSlowdown).
func (a *Agent) Interval() time.Duration { return time.Duration(a.interval.Load()) }

// SetSlowdown sets the probe rate to 1/n of the full rate (n >= 1): a site
// follower, whose measurements its site's leader publishes, samples at a
// low rate only to check that the site is still uniform. Probe loops take
// the new rate at once; windows keep their samples.
func (a *Agent) SetSlowdown(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n = max(1, n)
	if n == a.slowdown {
		return
	}
	a.slowdown = n
	a.setIntervalLocked()
}

// Slowdown is the divisor of the probe rate that SetSlowdown set.
func (a *Agent) Slowdown() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.slowdown
}

// waitNext returns a channel that is closed when the interval changes.
func (a *Agent) waitNext() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rateChanged
}

// stretchedInterval is the base interval per landmark that keeps n
// landmarks within budget probes per second. Waits are jittered by up to
// +20% (a mean of +10%), so the mean rate stays below the budget; the
// limiter holds the bursts.
func stretchedInterval(base time.Duration, n int, budget float64) time.Duration {
	need := time.Duration(float64(n) / budget * float64(time.Second))
	return max(base, need)
}

// setIntervalLocked works the interval out for the landmarks now probed;
// a.mu is held (or the agent not yet shared).
func (a *Agent) setIntervalLocked() {
	full := stretchedInterval(a.cfg.ProbeInterval, len(a.landmarks), a.cfg.Budget)
	if a.full <= a.cfg.ProbeInterval && full > a.cfg.ProbeInterval {
		klog.InfoS("More landmarks than the probe budget allows at the probe interval; each is probed less often",
			"landmarks", len(a.landmarks), "budget", a.cfg.Budget, "probeInterval", a.cfg.ProbeInterval, "interval", full)
	}
	a.full = full
	d := full * time.Duration(a.slowdown)
	if time.Duration(a.interval.Swap(int64(d))) == d {
		return
	}
	probeInterval.Set("", d.Seconds())
	close(a.rateChanged)
	a.rateChanged = make(chan struct{})
}

// Run watches Landmarks and probes each until ctx ends, then stops every
// probe loop, closes their connections and returns.
func (a *Agent) Run(ctx context.Context) error {
	defer a.wg.Wait()
	informer := cache.NewSharedIndexInformer(a.api.Landmarks(), &v1alpha1.Landmark{}, 0, cache.Indexers{})
	handler, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.setLandmark(ctx, obj) },
		UpdateFunc: func(_, obj any) { a.setLandmark(ctx, obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if lm, ok := obj.(*v1alpha1.Landmark); ok {
				a.removeLandmark(lm.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	informed := make(chan struct{})
	go func() {
		defer close(informed)
		informer.Run(ctx.Done())
	}()
	defer func() { <-informed }()
	if cache.WaitForCacheSync(ctx.Done(), handler.HasSynced) {
		close(a.synced)
	}
	<-ctx.Done()
	a.mu.Lock()
	for name := range a.landmarks {
		a.stopLocked(name)
	}
	a.mu.Unlock()
	return nil
}

// Landmarks returns the names of the landmarks being probed.
func (a *Agent) Landmarks() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.landmarks))
}

func (a *Agent) setLandmark(ctx context.Context, obj any) {
	lm, ok := obj.(*v1alpha1.Landmark)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.landmarks[lm.Name]; ok {
		if cur.spec.Protocol == lm.Spec.Protocol && slices.Equal(cur.spec.Addresses, lm.Spec.Addresses) {
			return
		}
		a.stopLocked(lm.Name) // new addresses measure something else: start afresh
	}
	if len(lm.Spec.Addresses) == 0 {
		klog.InfoS("Landmark has no addresses; not probing it", "landmark", lm.Name)
		return
	}
	loopCtx, cancel := context.WithCancel(ctx)
	p := &landmarkProbe{
		spec:   *lm.Spec.DeepCopy(),
		cancel: cancel,
		window: NewWindow(a.cfg.WindowSize, a.cfg.WindowAge),
	}
	a.landmarks[lm.Name] = p
	a.setIntervalLocked()
	a.wg.Go(func() { a.probeLoop(loopCtx, lm.Name, p) })
}

func (a *Agent) removeLandmark(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked(name)
}

func (a *Agent) stopLocked(name string) {
	if p, ok := a.landmarks[name]; ok {
		p.cancel()
		delete(a.landmarks, name)
		forgetLandmark(name)
		a.setIntervalLocked()
	}
}

// probeLoop probes one landmark until ctx ends. A failing address makes
// the next probe try the landmark's next address.
func (a *Agent) probeLoop(ctx context.Context, name string, p *landmarkProbe) {
	var prober Prober
	defer func() {
		if prober != nil {
			prober.Close()
		}
	}()
	address := 0
	unsupportedLogged := false
	// The first probe comes within one interval, spread so that a restart
	// of many agents does not probe in step.
	next := time.Duration(rand.Int64N(int64(a.Interval())))
	for {
		changed := a.waitNext()
		select {
		case <-ctx.Done():
			return
		case <-changed:
			// A new rate (a follower become standby, say): the next probe
			// comes within the new interval, not at the end of the old.
			next = time.Duration(rand.Int64N(int64(a.Interval())))
			continue
		case <-a.cfg.Clock.After(next):
		}
		next = wait.Jitter(a.Interval(), 0.2)
		if err := a.limiter.Wait(ctx); err != nil {
			return
		}
		rtt, err := a.probeOnce(ctx, p, &prober, &address)
		if errors.Is(err, ErrUnsupported) && !unsupportedLogged {
			klog.ErrorS(err, "Cannot probe landmark on this host", "landmark", name)
			unsupportedLogged = true
		}
		if ctx.Err() != nil {
			return // shutting down: not a loss
		}
		a.record(name, p, rtt, err)
		// A follower's next probe is minutes away: holding its connection
		// open until then would leave the landmark's responder with a
		// connection per node of the site rather than two.
		if prober != nil && a.Slowdown() > 1 {
			prober.Close()
			prober = nil
		}
	}
}

// probeOnce sends one probe to the landmark on *prober, made first if nil.
// A failure closes the prober and moves *address to the landmark's next
// address, so that the next probe tries it.
func (a *Agent) probeOnce(ctx context.Context, p *landmarkProbe, prober *Prober, address *int) (time.Duration, error) {
	var err error
	if *prober == nil {
		*prober, err = NewProber(p.spec.Protocol, p.spec.Addresses[*address], a.cfg.Source)
	}
	var rtt time.Duration
	if err == nil {
		probeCtx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
		rtt, err = (*prober).Probe(probeCtx)
		cancel()
	}
	if err != nil {
		if *prober != nil {
			(*prober).Close()
			*prober = nil
		}
		*address = (*address + 1) % len(p.spec.Addresses)
	}
	return rtt, err
}

func (a *Agent) record(name string, p *landmarkProbe, rtt time.Duration, err error) {
	now := a.cfg.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	probesSent.Inc(name)
	if err != nil {
		probesFailed.Inc(name)
		klog.V(4).InfoS("Probe failed", "landmark", name, "err", err)
		p.window.Add(Sample{At: now, Lost: true})
		return
	}
	p.window.Add(Sample{At: now, RTT: rtt})
	p.lastSuccess = now
}

// Summary returns, for each landmark with at least MinSamples answered
// probes in its window, the window's statistics at now. Slowed down, the
// window reaches as many times further back (WindowAge x slowdown), so
// that it holds about as many samples.
func (a *Agent) Summary(now time.Time) Summary {
	a.mu.Lock()
	probes := maps.Clone(a.landmarks)
	age := a.cfg.WindowAge * time.Duration(a.slowdown)
	a.mu.Unlock()
	out := Summary{}
	for name, p := range probes {
		p.mu.Lock()
		st := p.window.StatsWithin(now, age)
		last := p.lastSuccess
		p.mu.Unlock()
		if !last.IsZero() {
			lastSuccessAge.Set(name, now.Sub(last).Seconds())
		}
		if st.Answered >= a.cfg.MinSamples {
			out[name] = st
		}
	}
	return out
}

// String describes the agent's configuration for its start-up log.
func (c Config) String() string {
	return fmt.Sprintf("interval=%s timeout=%s budget=%g/s window=%d samples/%s",
		c.ProbeInterval, c.Timeout, c.Budget, c.WindowSize, c.WindowAge)
}
