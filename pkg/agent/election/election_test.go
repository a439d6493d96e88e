package election

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
)

// memoryLeases keeps Leases as the API server does for an election: a
// resource version per write, and a conflict for a write of a stale one.
type memoryLeases struct {
	mu      sync.Mutex
	leases  map[string]*coordinationv1.Lease
	version int
	failing error // every call fails with it, when set
}

var leaseResource = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func (m *memoryLeases) Get(_ context.Context, name string) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return nil, m.failing
	}
	l, ok := m.leases[name]
	if !ok {
		return nil, apierrors.NewNotFound(leaseResource, name)
	}
	return l.DeepCopy(), nil
}

func (m *memoryLeases) Create(_ context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return nil, m.failing
	}
	if _, ok := m.leases[lease.Name]; ok {
		return nil, apierrors.NewAlreadyExists(leaseResource, lease.Name)
	}
	return m.storeLocked(lease), nil
}

func (m *memoryLeases) Update(_ context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return nil, m.failing
	}
	old, ok := m.leases[lease.Name]
	if !ok {
		return nil, apierrors.NewNotFound(leaseResource, lease.Name)
	}
	if old.ResourceVersion != lease.ResourceVersion {
		return nil, apierrors.NewConflict(leaseResource, lease.Name, errors.New("the object has been modified"))
	}
	return m.storeLocked(lease), nil
}

func (m *memoryLeases) storeLocked(lease *coordinationv1.Lease) *coordinationv1.Lease {
	if m.leases == nil {
		m.leases = map[string]*coordinationv1.Lease{}
	}
	m.version++
	stored := lease.DeepCopy()
	stored.ResourceVersion = strconv.Itoa(m.version)
	m.leases[lease.Name] = stored
	return stored.DeepCopy()
}

func (m *memoryLeases) holder(name string) string {
	l, err := m.Get(context.Background(), name)
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// setHolder writes the Lease as another contender holding it would.
func (m *memoryLeases) setHolder(name, holder string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leases[name].Spec.HolderIdentity = &holder
	m.version++
	m.leases[name].ResourceVersion = strconv.Itoa(m.version)
}

func (m *memoryLeases) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failing = err
}

func config(leases Leases, identity string) Config {
	return Config{Leases: leases, Name: "site-a", Identity: identity,
		Duration: time.Second, RenewDeadline: 600 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
}

// TestTry walks one contender's tries through the cases of an election,
// on a fake clock.
func TestTry(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		name    string
		advance time.Duration
		// before runs ahead of the try: another contender's doing.
		before   func(*memoryLeases)
		wantHeld bool
		// wantTransitions is the Lease's count of holder changes after
		// the try.
		wantTransitions int32
	}
	otherHolds := func(renewed time.Time) func(*memoryLeases) {
		return func(m *memoryLeases) {
			other, seconds, at := "b", int32(1), metav1.NewMicroTime(renewed)
			m.leases["site-a"].Spec.HolderIdentity, m.leases["site-a"].Spec.LeaseDurationSeconds, m.leases["site-a"].Spec.RenewTime = &other, &seconds, &at
			m.version++
			m.leases["site-a"].ResourceVersion = strconv.Itoa(m.version)
		}
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{{
		name: "a Lease no one has is created held",
		steps: []step{
			{name: "create", wantHeld: true},
			{name: "renew", advance: 100 * time.Millisecond, wantHeld: true},
		},
	}, {
		name: "another's Lease is taken once it has gone unrenewed for its duration, as this contender saw it",
		steps: []step{
			{name: "create", wantHeld: true},
			// Another takes it with a renew time of long ago: clocks
			// are never compared, so it counts from when it is seen.
			{name: "taken by another", before: otherHolds(start.Add(-time.Hour)), wantHeld: false, wantTransitions: 0},
			{name: "under its duration", advance: 900 * time.Millisecond, wantHeld: false},
			{name: "its duration", advance: 100 * time.Millisecond, wantHeld: true, wantTransitions: 1},
		},
	}, {
		name: "a renewal by the other holder starts the wait again",
		steps: []step{
			{name: "create", wantHeld: true},
			{name: "taken by another", before: otherHolds(start), wantHeld: false},
			{name: "renewed by it", advance: 900 * time.Millisecond, before: otherHolds(start.Add(900 * time.Millisecond)), wantHeld: false},
			{name: "a second after the first sight", advance: 100 * time.Millisecond, wantHeld: false},
			{name: "a second after the renewal", advance: 900 * time.Millisecond, wantHeld: true, wantTransitions: 1},
		},
	}, {
		name: "a released Lease is taken at once",
		steps: []step{
			{name: "create", wantHeld: true},
			{name: "released by its holder", before: func(m *memoryLeases) {
				none := ""
				m.leases["site-a"].Spec.HolderIdentity = &none
				m.version++
				m.leases["site-a"].ResourceVersion = strconv.Itoa(m.version)
			}, wantHeld: true, wantTransitions: 1},
		},
	}, {
		name: "a failing API server holds nothing",
		steps: []step{
			{name: "create fails", before: func(m *memoryLeases) { m.failing = errors.New("connection refused") }, wantHeld: false},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			leases := &memoryLeases{}
			clock := clocktesting.NewFakeClock(start)
			cfg := config(leases, "a")
			cfg.Clock = clock
			e := &elector{cfg: cfg}
			for _, s := range tc.steps {
				clock.Step(s.advance)
				if s.before != nil {
					leases.mu.Lock()
					s.before(leases)
					leases.mu.Unlock()
				}
				assert.Equal(t, s.wantHeld, e.try(context.Background()) == held, s.name)
				if l, err := leases.Get(context.Background(), "site-a"); err == nil {
					assert.Equal(t, s.wantTransitions, ptrValue(l.Spec.LeaseTransitions), s.name+": transitions")
					if s.wantHeld {
						assert.Equal(t, "a", *l.Spec.HolderIdentity, s.name)
						assert.True(t, l.Spec.RenewTime.Time.Equal(clock.Now()), s.name+": renewed now")
					}
				}
			}
		})
	}
}

// TestTryLosesARace: of two contenders writing the same version, one
// holds the Lease.
func TestTryLosesARace(t *testing.T) {
	leases := &memoryLeases{}
	a, b := &elector{cfg: config(leases, "a")}, &elector{cfg: config(leases, "b")}
	a.cfg.Clock, b.cfg.Clock = clocktesting.NewFakeClock(time.Now()), clocktesting.NewFakeClock(time.Now())
	none := ""
	leases.storeLocked(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "site-a"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &none}})
	stale, err := leases.Get(context.Background(), "site-a")
	require.NoError(t, err)
	require.Equal(t, held, a.try(context.Background()))
	// b read the Lease before a wrote it: its write is refused.
	taken := stale.DeepCopy()
	taken.Spec = b.hold(stale.Spec, b.cfg.Clock.Now())
	_, err = leases.Update(context.Background(), taken)
	assert.True(t, apierrors.IsConflict(err))
	assert.Equal(t, takenByAnother, b.try(context.Background()), "b sees a's fresh hold")
	assert.Equal(t, "a", leases.holder("site-a"))
}

// TestRunHandsOver: the holder leads until its context ends, then releases
// the Lease, and the other contender leads.
func TestRunHandsOver(t *testing.T) {
	leases := &memoryLeases{}
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	leadingA := make(chan struct{})
	doneA := make(chan error, 1)
	leadEndedA := make(chan struct{})
	go func() {
		doneA <- Run(ctxA, config(leases, "a"), func(c context.Context) {
			close(leadingA)
			<-c.Done()
			close(leadEndedA)
		})
	}()
	<-leadingA
	leadingB := make(chan struct{})
	doneB := make(chan error, 1)
	go func() {
		doneB <- Run(ctx, config(leases, "b"), func(c context.Context) {
			close(leadingB)
			<-c.Done()
		})
	}()
	stopA()
	require.NoError(t, <-doneA)
	// Released, not left to expire: free, or b's already.
	assert.Contains(t, []string{"", "b"}, leases.holder("site-a"), "released when its context ended")
	select {
	case <-leadEndedA:
	default:
		t.Fatal("Run returned before its lead did")
	}
	select {
	case <-leadingB:
		assert.Equal(t, "b", leases.holder("site-a"))
	case <-time.After(10 * time.Second):
		t.Fatal("the other contender did not lead after the holder released the Lease")
	}
	stop()
	require.NoError(t, <-doneB)
	assert.Equal(t, "", leases.holder("site-a"), "released when its context ended")
}

// TestRunStopsLeadingWhenRenewalsFail: a holder that cannot renew stops
// leading within its renew deadline.
func TestRunStopsLeadingWhenRenewalsFail(t *testing.T) {
	leases := &memoryLeases{}
	leading, lost := make(chan struct{}), make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), config(leases, "a"), func(c context.Context) {
			close(leading)
			<-c.Done()
			lost <- time.Now()
		})
	}()
	<-leading
	failedAt := time.Now()
	leases.fail(errors.New("connection refused"))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the holder went on leading without renewing")
	}
	// Its lead ended before the Lease could have gone to another: the
	// renew deadline is under the duration.
	assert.Less(t, (<-lost).Sub(failedAt), config(leases, "a").Duration)
}

// TestRunWaitsForAnotherHolder: while another holds and renews the Lease,
// a contender does not lead.
func TestRunWaitsForAnotherHolder(t *testing.T) {
	leases := &memoryLeases{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	aLeads := make(chan struct{})
	go Run(ctx, config(leases, "a"), func(c context.Context) { close(aLeads); <-c.Done() })
	<-aLeads
	bCtx, stopB := context.WithCancel(ctx)
	bLed := make(chan struct{}, 1)
	bDone := make(chan error, 1)
	go func() {
		bDone <- Run(bCtx, config(leases, "b"), func(context.Context) { bLed <- struct{}{} })
	}()
	// b tries every retry period; over three lease durations it must
	// never lead while a renews.
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 3*time.Second, true, func(context.Context) (bool, error) {
		return len(bLed) > 0, nil
	})
	assert.True(t, wait.Interrupted(err), "b led while a held the Lease")
	stopB()
	require.NoError(t, <-bDone)
	assert.Equal(t, "a", leases.holder("site-a"))
}

func TestValidate(t *testing.T) {
	leases := &memoryLeases{}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{name: "valid", change: func(*Config) {}},
		{name: "no leases", change: func(c *Config) { c.Leases = nil }, wantErr: "Leases: required"},
		{name: "no identity", change: func(c *Config) { c.Identity = "" }, wantErr: `Identity "": both required`},
		{name: "short duration", change: func(c *Config) { c.Duration = 500 * time.Millisecond }, wantErr: "Duration: invalid value 500ms"},
		{name: "deadline past duration", change: func(c *Config) { c.RenewDeadline = time.Second }, wantErr: "RenewDeadline: invalid value 1s"},
		{name: "retry past deadline", change: func(c *Config) { c.RetryPeriod = time.Second }, wantErr: "RetryPeriod: invalid value 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(leases, "a")
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// TestHeldRoundsTheDurationUp: the others must wait at least the
// holder's own duration.
func TestHeldRoundsTheDurationUp(t *testing.T) {
	e := &elector{cfg: config(&memoryLeases{}, "a")}
	e.cfg.Duration = 1500 * time.Millisecond
	spec := e.hold(coordinationv1.LeaseSpec{}, time.Now())
	assert.Equal(t, int32(2), *spec.LeaseDurationSeconds)
}

// countingLeases counts the calls of each kind.
type countingLeases struct {
	*memoryLeases
	gets, updates int
}

func (c *countingLeases) Get(ctx context.Context, name string) (*coordinationv1.Lease, error) {
	c.gets++
	return c.memoryLeases.Get(ctx, name)
}

func (c *countingLeases) Update(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	c.updates++
	return c.memoryLeases.Update(ctx, lease)
}

// TestRenewalIsOneWrite: a holder renews without reading, as client-go's
// leader election does, so that the Leases' API load is what bench/README
// derives; when another has written the Lease, it reads it and sees so.
func TestRenewalIsOneWrite(t *testing.T) {
	leases := &countingLeases{memoryLeases: &memoryLeases{}}
	clock := clocktesting.NewFakeClock(time.Now())
	cfg := config(leases, "a")
	cfg.Clock = clock
	e := &elector{cfg: cfg}
	require.Equal(t, held, e.try(context.Background()))
	leases.gets, leases.updates = 0, 0
	for range 5 {
		clock.Step(cfg.RetryPeriod)
		require.Equal(t, held, e.try(context.Background()))
	}
	assert.Equal(t, 0, leases.gets)
	assert.Equal(t, 5, leases.updates)

	leases.setHolder("site-a", "b")
	clock.Step(cfg.RetryPeriod)
	assert.Equal(t, takenByAnother, e.try(context.Background()), "another took the Lease")
	assert.Equal(t, 1, leases.gets)
}

// TestRunStopsLeadingWhenAnotherHolds: a holder that finds another holding
// the Lease stops at its next renewal, not at its renew deadline, and does
// not write over the other.
func TestRunStopsLeadingWhenAnotherHolds(t *testing.T) {
	leases := &memoryLeases{}
	cfg := config(leases, "a")
	leading, lost := make(chan struct{}), make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), cfg, func(c context.Context) {
			close(leading)
			<-c.Done()
			lost <- time.Now()
		})
	}()
	<-leading
	leases.setHolder("site-a", "b")
	takenAt := time.Now()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the holder went on leading after another took the Lease")
	}
	assert.Less(t, (<-lost).Sub(takenAt), cfg.RenewDeadline, "stopped before its renew deadline")
	assert.Equal(t, "b", leases.holder("site-a"))
}

// TestReleaseAfterACancelledRenewal: a renewal cancelled on its way can
// still have been written; the release then conflicts, reads the Lease,
// finds itself the holder and releases it.
func TestReleaseAfterACancelledRenewal(t *testing.T) {
	leases := &memoryLeases{}
	clock := clocktesting.NewFakeClock(time.Now())
	cfg := config(leases, "a")
	cfg.Clock = clock
	e := &elector{cfg: cfg}
	require.Equal(t, held, e.try(context.Background()))
	// The renewal the elector never heard back from.
	written := e.seen.DeepCopy()
	written.Spec = e.hold(written.Spec, clock.Now())
	_, err := leases.Update(context.Background(), written)
	require.NoError(t, err)
	e.release(context.Background())
	assert.Equal(t, "", leases.holder("site-a"))

	// Another's Lease is not released.
	require.Equal(t, held, e.try(context.Background()))
	leases.setHolder("site-a", "b")
	e.release(context.Background())
	assert.Equal(t, "b", leases.holder("site-a"))
}
