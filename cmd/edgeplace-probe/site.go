package main

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/agent/probe"
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
const standbyLeaseFactor = 4

type site struct {
	kube      kubernetes.Interface
	namespace string
	node      string
	object    string // the site's NodeNetwork, which names its Leases
	agent     *probe.Agent
	publisher *probe.Publisher
	slowdown  int
	lease     time.Duration
}

func (s *site) lock(name string) *resourcelock.LeaseLock {
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: name, Namespace: s.namespace},
		Client:     s.kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.node},
	}
}

// elect runs one election for the Lease until this probe has held it and
// lost it, or ctx ends. held is closed once the Lease is held; while it is,
// lead runs with a context that ends when it is lost.
// Holders renew, and others poll, every duration x 2/15 (2s of 15s).
func (s *site) elect(ctx context.Context, lease string, duration time.Duration, held chan<- struct{}, lead func(context.Context)) {
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            s.lock(lease),
		LeaseDuration:   duration,
		RenewDeadline:   duration * 2 / 3,
		RetryPeriod:     duration * 2 / 15,
		ReleaseOnCancel: true,
		Name:            lease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) {
				close(held)
				if lead != nil {
					lead(c)
				}
			},
			OnStoppedLeading: func() {},
		},
	})
}

// run plays the probe's roles until ctx ends.
func (s *site) run(ctx context.Context) {
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
