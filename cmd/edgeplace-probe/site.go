package main

import (
	"context"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/agent/election"
	"github.com/edgeplace/edgeplace/pkg/agent/probe"
	"github.com/edgeplace/edgeplace/pkg/agent/probeapi"
)

// site runs a probe's part in its site. Two Leases per site give three
// roles:
//   - the leader holds the site Lease, probes at the full rate and publishes
//     the site object;
//   - the standby holds the standby Lease, probes at the full rate so that
//     its windows are as full as the leader's, and is the only probe that
//     contends for the site Lease: when the leader goes, it takes over within
//     one lease period with windows that have no gap;
//   - every other probe is a follower: it contends for the standby Lease and
//     samples each landmark at 1/slowdown of the full rate.
//
// A standby that becomes leader gives up the standby Lease, which a
// follower then takes. With 20 nodes a site and a slowdown of 30, a site
// sends 2 + 18/30 = 2.6 probes per landmark per interval, against 20.
//
// The standby Lease lasts standbyLeaseFactor times the site Lease: a lost
// standby is not urgent while the leader runs, and its followers, who poll
// the Lease every retry period, poll it that many times less often.
//
// A follower or standby whose own measurements differ from the site
// object's (Divergence) leaves the site's roles: it probes at the full rate
// and publishes its node's own NodeNetwork, which the scheduler reads for
// that node instead of the site's. Once it has agreed with the site for
// convergedChecks checks in a row, it deletes that object and rejoins.
const (
	standbyLeaseFactor = 4
	convergedChecks    = 3
	// ownCheckEvery is how many full-rate intervals a node with its own
	// object waits between two comparisons with its site.
	ownCheckEvery = 10
)

type site struct {
	api        *probeapi.Client
	leases     election.Leases // of the probes' namespace
	node       string
	object     string // the site's NodeNetwork, which names its Leases
	agent      *probe.Agent
	publisher  *probe.Publisher
	slowdown   int
	lease      time.Duration
	divergence probe.Divergence
	// ownPublisher makes a publisher of the node's own object.
	ownPublisher func() *probe.Publisher

	leading atomic.Bool
}

// elect runs one election for the Lease until this probe has held it and
// lost it, or ctx ends. held is closed once the Lease is held; while it is,
// lead runs with a context that ends when it is lost.
// Holders renew, and others poll, every duration x 2/15 (2s of 15s).
func (s *site) elect(ctx context.Context, lease string, duration time.Duration, held chan<- struct{}, lead func(context.Context)) {
	err := election.Run(ctx, election.Config{
		Leases:        s.leases,
		Name:          lease,
		Identity:      s.node,
		Duration:      duration,
		RenewDeadline: duration * 2 / 3,
		RetryPeriod:   duration * 2 / 15,
	}, func(c context.Context) {
		close(held)
		if lead != nil {
			lead(c)
		}
	})
	if err != nil {
		klog.ErrorS(err, "Site election", "lease", lease)
		<-ctx.Done() // a setting the flags' validation let through: no role, rather than a busy loop
	}
}

// run plays the probe's part until ctx ends: the site's roles while its
// measurements agree with the site's, its own object while they do not.
func (s *site) run(ctx context.Context) {
	// Every probe of the site, followers too, answers the requests on the
	// site's object: the leader publishes what it measured, the others
	// compare theirs with it.
	go s.agent.ServeRequests(ctx, s.object)
	for ctx.Err() == nil {
		rolesCtx, leave := context.WithCancel(ctx)
		diverged := make(chan []string, 1)
		go s.watch(rolesCtx, func(landmarks []string) {
			diverged <- landmarks
			leave()
		})
		s.roles(rolesCtx)
		leave()
		select {
		case landmarks := <-diverged:
			s.own(ctx, landmarks)
		default:
		}
	}
}

// watch compares, after each of its probe intervals, this probe's
// measurements with the site object's, unless it leads the site, and calls
// diverged once when they differ.
func (s *site) watch(ctx context.Context, diverged func([]string)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.agent.Interval()):
		}
		if s.leading.Load() {
			continue
		}
		if landmarks := s.diverging(ctx); len(landmarks) > 0 {
			diverged(landmarks)
			return
		}
	}
}

// diverging returns the landmarks on which this probe's measurements
// differ from the site object's; none when the object cannot be read.
func (s *site) diverging(ctx context.Context) []string {
	nn, err := s.api.GetNodeNetwork(ctx, s.object)
	if err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			klog.ErrorS(err, "Reading the site object to compare with it", "siteObject", s.object)
		}
		return nil
	}
	return s.divergence.Diverging(s.agent.Summary(time.Now()), nn.Status.Landmarks)
}

// own publishes the node's own object at the full rate until the node has
// agreed with its site for convergedChecks checks in a row, then deletes it.
func (s *site) own(ctx context.Context, landmarks []string) {
	klog.InfoS("This node measures differently from its site; publishing its own NodeNetwork",
		"siteObject", s.object, "landmarks", landmarks, "divergence", s.divergence)
	s.become(probe.RoleOwn)
	ownCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ownPublisher().Run(ownCtx)
	}()
	go s.agent.ServeRequests(ownCtx, s.node) // the scheduler reads, and asks, this node's own object now
	for agreed := 0; agreed < convergedChecks; {
		select {
		case <-ctx.Done():
			stop()
			<-done
			return
		case <-time.After(ownCheckEvery * s.agent.Interval()):
		}
		if len(s.diverging(ctx)) == 0 {
			agreed++
		} else {
			agreed = 0
		}
	}
	stop()
	<-done
	klog.InfoS("This node measures as its site again; deleting its own NodeNetwork", "siteObject", s.object)
	if err := s.api.DeleteNodeNetwork(ctx, s.node); err != nil && !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "Deleting the node's own NodeNetwork; the scheduler reads it instead of the site's until it goes", "nodeNetwork", s.node)
	}
}

// roles plays leader, standby or follower until ctx ends.
func (s *site) roles(ctx context.Context) {
	leaderLease, standbyLease := "edgeplace-probe-"+s.object, "edgeplace-probe-"+s.object+"-standby"
	for ctx.Err() == nil {
		s.become(probe.RoleFollower)

		standbyCtx, releaseStandby := context.WithCancel(ctx)
		standbyHeld, standbyDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(standbyDone)
			s.elect(standbyCtx, standbyLease, s.lease*standbyLeaseFactor, standbyHeld, nil)
		}()
		select {
		case <-standbyHeld:
		case <-standbyDone: // ctx ended
			releaseStandby()
			continue
		}
		s.become(probe.RoleStandby)

		leaderCtx, stopContending := context.WithCancel(ctx)
		leading, leaderDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(leaderDone)
			s.elect(leaderCtx, leaderLease, s.lease, leading, func(c context.Context) {
				s.leading.Store(true)
				defer s.leading.Store(false)
				s.become(probe.RoleLeader)
				s.publisher.Run(c)
			})
		}()
		select {
		case <-leading:
			// Leading: the standby Lease goes to a follower now, not when
			// this probe stops leading.
			releaseStandby()
			<-standbyDone
			<-leaderDone
		case <-standbyDone: // the standby Lease was lost: a follower again
			stopContending()
			<-leaderDone
		}
		stopContending()
		releaseStandby()
	}
}

func (s *site) become(role string) {
	probe.SetSiteRole(role)
	slowdown := s.slowdown
	if role != probe.RoleFollower {
		slowdown = 1
	}
	s.agent.SetSlowdown(slowdown)
	klog.InfoS("Site role", "role", role, "siteObject", s.object, "interval", s.agent.Interval())
}
