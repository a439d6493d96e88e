package probe

import (
	"context"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// The scheduler asks for measurements through a NodeNetwork's
// spec.measureNow (pkg/ondemand). A probe watches the objects it writes or
// follows by name (one object each: the probe may watch NodeNetworks but
// not list them), and answers each request once: it probes the landmarks
// asked for MinSamples times, through its budget, and its publishers write
// at once.

// ServeRequests answers the measure requests on the named NodeNetwork until
// ctx ends. The watch is made again whenever it ends, so a probe that lost
// the API server for a while takes the request still younger than
// v1alpha1.MeasureRequestMaxAge when it is back.
func (a *Agent) ServeRequests(ctx context.Context, object string) {
	select {
	case <-a.synced:
	case <-ctx.Done():
		return
	}
	var taken time.Time // the requestedAt last answered
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: 8, Cap: time.Minute}
	delay := backoff
	for ctx.Err() == nil {
		w, err := a.api.WatchNodeNetwork(ctx, object)
		if err != nil {
			if ctx.Err() == nil {
				klog.ErrorS(err, "Watching for measure requests", "nodeNetwork", object)
			}
			select {
			case <-ctx.Done():
			case <-a.cfg.Clock.After(delay.Step()):
			}
			continue
		}
		events := 0
		for ev := range w.ResultChan() {
			events++
			if ev.Type == watch.Error {
				if st := apierrors.FromObject(ev.Object); ctx.Err() == nil {
					klog.V(2).InfoS("Watch for measure requests ended", "nodeNetwork", object, "err", st)
				}
				break
			}
			nn, ok := ev.Object.(*v1alpha1.NodeNetwork)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) || nn.Spec.MeasureNow == nil {
				continue
			}
			req := nn.Spec.MeasureNow
			at := req.RequestedAt.Time
			switch {
			case !at.After(taken):
				continue // answered already
			case a.cfg.Clock.Since(at) > v1alpha1.MeasureRequestMaxAge:
				measureRequests.Inc("stale")
				taken = at
				continue
			}
			taken = at
			measureRequests.Inc("taken")
			klog.V(2).InfoS("Measuring now, as asked", "nodeNetwork", object, "landmarks", req.Landmarks, "requestedAt", at)
			go a.MeasureNow(ctx, req.Landmarks)
		}
		w.Stop()
		if events > 0 {
			delay = backoff
			continue
		}
		// A watch that ends at once, again and again, is not retried in a
		// tight loop.
		select {
		case <-ctx.Done():
		case <-a.cfg.Clock.After(delay.Step()):
		}
	}
}

// MeasureNow probes each of the named landmarks this agent probes
// MinSamples times, through the node's probe budget, and then tells the
// agent's publishers (Publisher.Run) that there are fresh measurements to
// write. A landmark already being measured now is not measured twice, and
// landmarks the agent does not probe are left out. It returns the
// landmarks it measured.
func (a *Agent) MeasureNow(ctx context.Context, landmarks []string) []string {
	a.mu.Lock()
	type job struct {
		name string
		p    *landmarkProbe
	}
	var jobs []job
	for _, name := range landmarks {
		if p, ok := a.landmarks[name]; ok && !a.measuring[name] {
			a.measuring[name] = true
			jobs = append(jobs, job{name, p})
		}
	}
	a.mu.Unlock()
	if len(jobs) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { a.burst(ctx, j.name, j.p) })
	}
	wg.Wait()
	a.mu.Lock()
	for _, j := range jobs {
		delete(a.measuring, j.name)
	}
	close(a.measured)
	a.measured = make(chan struct{})
	a.mu.Unlock()
	names := make([]string, 0, len(jobs))
	for _, j := range jobs {
		names = append(names, j.name)
	}
	slices.Sort(names)
	return names
}

// burst probes one landmark MinSamples times on a connection of its own,
// closed after, so that the landmark's probe loop keeps its own rhythm.
func (a *Agent) burst(ctx context.Context, name string, p *landmarkProbe) {
	var prober Prober
	defer func() {
		if prober != nil {
			prober.Close()
		}
	}()
	address := 0
	for range a.cfg.MinSamples {
		if err := a.limiter.Wait(ctx); err != nil {
			return
		}
		rtt, err := a.probeOnce(ctx, p, &prober, &address)
		if ctx.Err() != nil {
			return
		}
		a.record(name, p, rtt, err)
	}
}

// measuredNow returns a channel that is closed when MeasureNow has fresh
// measurements.
func (a *Agent) measuredNow() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.measured
}
