// Package election elects one holder of a coordination.k8s.io Lease among
// the processes that contend for it, with the rules of client-go's
// leaderelection: a holder renews the Lease every retry period and stops
// leading when it has not renewed it for the renew deadline, counted from
// the start of its last renewal, or when it sees another holding it; the
// others take it once it has gone unrenewed, as they saw it, for its
// duration.
// Time is the contenders' own, never a comparison of clocks: a Lease is
// judged expired by how long ago this process last saw it change.
//
// It exists because client-go's leaderelection links the whole clientset
// (resourcelock's other lock kinds need it), and the probe, which runs on
// every node, links only the resources it uses (package probeapi).
package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Leases is what an election needs of the API server: the Leases of one
// namespace.
type Leases interface {
	Get(ctx context.Context, name string) (*coordinationv1.Lease, error)
	Create(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error)
	// Update fails with a conflict when the Lease has changed since it
	// was read.
	Update(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error)
}

// Config is one contender's part in the election for one Lease.
type Config struct {
	Leases   Leases
	Name     string // the Lease's
	Identity string // this contender's, unique among them
	// Duration is how long the others wait, from when they last saw the
	// Lease renewed, before they take it. At least a second; the Lease
	// holds it in whole seconds, rounded up.
	Duration time.Duration
	// RenewDeadline is how long a holder goes on leading without a
	// successful renewal; under Duration, so that it has stopped before
	// another can take the Lease.
	RenewDeadline time.Duration
	// RetryPeriod is how often a holder renews and the others try.
	RetryPeriod time.Duration
	// Clock is the real one unless a test sets it.
	Clock clock.Clock
}

// Validate says which setting of cfg cannot make an election.
func (cfg Config) Validate() error {
	var errs []error
	if cfg.Leases == nil {
		errs = append(errs, errors.New("Leases: required"))
	}
	if cfg.Name == "" || cfg.Identity == "" {
		errs = append(errs, fmt.Errorf("Name %q, Identity %q: both required", cfg.Name, cfg.Identity))
	}
	if cfg.Duration < time.Second {
		errs = append(errs, fmt.Errorf("Duration: invalid value %s: must be at least 1s", cfg.Duration))
	}
	if cfg.RenewDeadline <= 0 || cfg.RenewDeadline >= cfg.Duration {
		errs = append(errs, fmt.Errorf("RenewDeadline: invalid value %s: must be positive and under Duration (%s)", cfg.RenewDeadline, cfg.Duration))
	}
	if cfg.RetryPeriod <= 0 || cfg.RetryPeriod >= cfg.RenewDeadline {
		errs = append(errs, fmt.Errorf("RetryPeriod: invalid value %s: must be positive and under RenewDeadline (%s)", cfg.RetryPeriod, cfg.RenewDeadline))
	}
	return errors.Join(errs...)
}

// Run contends for the Lease until ctx ends or, having held it, this
// contender loses it. While it holds the Lease, lead runs with a context
// that ends when the Lease is lost or ctx ends. Run returns once lead has;
// when ctx ended while it held the Lease, it then releases it, so that
// another contender takes it at its next try rather than after Duration.
func Run(ctx context.Context, cfg Config, lead func(context.Context)) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("election for Lease %q: %w", cfg.Name, err)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	e := &elector{cfg: cfg}
	for e.try(ctx) != held {
		select {
		case <-ctx.Done():
			return nil
		case <-cfg.Clock.After(wait.Jitter(cfg.RetryPeriod, 1.2)):
		}
	}
	klog.V(2).InfoS("Holding the Lease", "lease", cfg.Name, "identity", cfg.Identity)
	leadCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	e.renew(ctx)
	stop()
	<-done
	if ctx.Err() != nil {
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RenewDeadline)
		defer cancel()
		e.release(release)
	} else {
		klog.InfoS("Lost the Lease", "lease", cfg.Name, "identity", cfg.Identity)
	}
	return nil
}

// elector keeps what one contender last saw of the Lease.
type elector struct {
	cfg Config
	// seen is the Lease as last read or written, and seenAt when it was
	// first seen as it is.
	seen   *coordinationv1.Lease
	seenAt time.Time
}

// renew renews the held Lease every retry period until ctx ends, another
// contender is seen holding it, or no renewal has succeeded for the renew
// deadline. The deadline runs from the start of the last successful
// renewal, not from its answer, so that the holder stops before any other
// contender, who counts from after it saw the renewal, can take the Lease.
func (e *elector) renew(ctx context.Context) {
	for {
		left := e.cfg.RenewDeadline - e.cfg.Clock.Since(e.seenAt)
		if left <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-e.cfg.Clock.After(min(e.cfg.RetryPeriod, left)):
		}
		left = e.cfg.RenewDeadline - e.cfg.Clock.Since(e.seenAt)
		if left <= 0 {
			return
		}
		attempt, cancel := context.WithTimeout(ctx, left)
		outcome := e.try(attempt)
		cancel()
		if outcome == takenByAnother || ctx.Err() != nil {
			return
		}
	}
}

// outcome is what one try came to.
type outcome int

const (
	// held: this contender holds the Lease, from the start of the try.
	held outcome = iota
	// takenByAnother: another contender holds it, and renews it.
	takenByAnother
	// failed: the API server could not be read or written, or another
	// contender wrote first.
	failed
)

// try takes or renews the Lease.
func (e *elector) try(ctx context.Context) outcome {
	now := e.cfg.Clock.Now()
	if e.holds(now) {
		// A holder renews what it last wrote, without reading it first:
		// one call a renewal. A conflict means another wrote it; the
		// read below sees what.
		renewed := e.seen.DeepCopy()
		renewed.Spec = e.hold(e.seen.Spec, now)
		if updated, err := e.cfg.Leases.Update(ctx, renewed); err == nil {
			e.see(updated, now)
			return held
		}
	}
	lease, err := e.cfg.Leases.Get(ctx, e.cfg.Name)
	if apierrors.IsNotFound(err) {
		created, err := e.cfg.Leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: e.cfg.Name},
			Spec:       e.hold(coordinationv1.LeaseSpec{}, now),
		})
		if err != nil {
			e.logFailure(err, "Creating the Lease")
			return failed
		}
		e.see(created, now)
		return held
	}
	if err != nil {
		e.logFailure(err, "Reading the Lease")
		return failed
	}
	if e.seen == nil || e.seen.ResourceVersion != lease.ResourceVersion {
		// Seen from the answer on: a renewal that landed while the read
		// was on its way must not count from before it.
		e.see(lease, e.cfg.Clock.Now())
	}
	holder := lease.Spec.HolderIdentity
	if holder != nil && *holder != "" && *holder != e.cfg.Identity && e.cfg.Clock.Now().Before(e.seenAt.Add(leaseDuration(lease.Spec))) {
		return takenByAnother
	}
	taken := lease.DeepCopy()
	taken.Spec = e.hold(lease.Spec, now)
	updated, err := e.cfg.Leases.Update(ctx, taken)
	if err != nil {
		e.logFailure(err, "Writing the Lease")
		return failed
	}
	e.see(updated, now)
	return held
}

// holds says whether this contender held the Lease when it last wrote it,
// and that was under the Lease's duration ago.
func (e *elector) holds(now time.Time) bool {
	return e.seen != nil && e.seen.Spec.HolderIdentity != nil && *e.seen.Spec.HolderIdentity == e.cfg.Identity &&
		now.Before(e.seenAt.Add(leaseDuration(e.seen.Spec)))
}

// hold is spec as this contender holds it from now. Taking it from
// anyone, a released Lease too, is a transition, as client-go counts them.
func (e *elector) hold(spec coordinationv1.LeaseSpec, now time.Time) coordinationv1.LeaseSpec {
	at := metav1.NewMicroTime(now)
	if spec.HolderIdentity == nil || *spec.HolderIdentity != e.cfg.Identity {
		spec.AcquireTime = &at
		if spec.HolderIdentity != nil {
			transitions := ptrValue(spec.LeaseTransitions) + 1
			spec.LeaseTransitions = &transitions
		}
	}
	identity, seconds := e.cfg.Identity, int32((e.cfg.Duration+time.Second-1)/time.Second)
	spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime = &identity, &seconds, &at
	return spec
}

// release gives the Lease up while this contender still holds it: no
// holder, and a duration of a second for contenders that still read the
// old holder's. A renewal cancelled on its way may still have been
// written, so a conflict is read and tried again.
func (e *elector) release(ctx context.Context) {
	for ctx.Err() == nil && e.holds(e.cfg.Clock.Now()) {
		released := e.seen.DeepCopy()
		none, second, at := "", int32(1), metav1.NewMicroTime(e.cfg.Clock.Now())
		released.Spec.HolderIdentity, released.Spec.LeaseDurationSeconds, released.Spec.RenewTime = &none, &second, &at
		_, err := e.cfg.Leases.Update(ctx, released)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			e.logFailure(err, "Releasing the Lease; the others take it once it expires")
			return
		}
		lease, err := e.cfg.Leases.Get(ctx, e.cfg.Name)
		if err != nil {
			e.logFailure(err, "Reading the Lease to release it; the others take it once it expires")
			return
		}
		e.seen = lease // its own write, or another's: holds tells
	}
}

func (e *elector) see(lease *coordinationv1.Lease, now time.Time) {
	e.seen, e.seenAt = lease, now
}

func (e *elector) logFailure(err error, msg string) {
	if apierrors.IsConflict(err) {
		klog.V(4).InfoS(msg+": another contender wrote it first", "lease", e.cfg.Name)
		return
	}
	klog.V(2).InfoS(msg, "lease", e.cfg.Name, "err", err)
}

// leaseDuration is the duration a Lease's holder asked for; a Lease
// without one lasts a second.
func leaseDuration(spec coordinationv1.LeaseSpec) time.Duration {
	return time.Duration(max(ptrValue(spec.LeaseDurationSeconds), 1)) * time.Second
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
