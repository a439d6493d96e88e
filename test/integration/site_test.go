package integration

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// siteLease is the site-mode Lease duration in these tests; the flags'
// default is 15s.
const siteLease = 3 * time.Second

// echoCounts counts, per source address, the requests a responder
// answered.
type echoCounts struct {
	mu sync.Mutex
	n  map[netip.Addr]int
}

func (c *echoCounts) add(src netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[netip.Addr]int{}
	}
	c.n[src]++
}

func (c *echoCounts) of(src netip.Addr) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[src]
}

// siteNamespace makes the namespace of the site-mode Leases.
func (f *fixture) siteNamespace() string {
	f.t.Helper()
	const ns = "edgeplace-system"
	_, err := f.e.kube.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(f.t, err)
	}
	return ns
}

// holder is the identity holding the Lease, or "".
func (f *fixture) holder(namespace, lease string) string {
	l, err := f.e.kube.CoordinationV1().Leases(namespace).Get(f.ctx, lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// TestSiteModeLeaderStandbyAndFollowers runs three real probes of one site
// against one responder that counts who probes it: the leader and the
// standby probe at the full rate and the follower at 1/20 of it. Killed,
// the leader hands over to the standby within one lease period and the
// site object stays fresh; the follower becomes the standby and probes at
// the full rate.
func TestSiteModeLeaderStandbyAndFollowers(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	counts := &echoCounts{}
	l, err := responder.Listen(responder.Options{Network: "udp", Address: "127.0.0.1:0", Delay: 10 * time.Millisecond,
		PerSourceRate: 1000, PerSourceBurst: 100, Answered: counts.add})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	lm := f.prefix + "-users"
	f.probedLandmark(lm, v1alpha1.ProtocolUDPEcho, l.Addr().String())
	ns := f.siteNamespace()
	site := f.prefix + "-site"
	object := "site-" + site
	leaderLease, standbyLease := "edgeplace-probe-"+object, "edgeplace-probe-"+object+"-standby"
	t.Cleanup(func() {
		ctx := context.Background()
		_ = f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, object, metav1.DeleteOptions{})
		for _, lease := range []string{leaderLease, standbyLease} {
			_ = f.e.kube.CoordinationV1().Leases(ns).Delete(ctx, lease, metav1.DeleteOptions{})
		}
	})

	source := map[string]netip.Addr{}
	kill := map[string]func(){}
	var nodes []string
	for i := range 3 {
		n := f.node(fmt.Sprintf("%s-%d", f.prefix, i), 4, map[string]string{v1alpha1.SiteLabel: site})
		nodes = append(nodes, n.Name)
		source[n.Name] = netip.MustParseAddr(fmt.Sprintf("127.0.0.%d", 41+i))
		kill[n.Name] = f.probeProcess(n.Name, source[n.Name].String(), append(slices.Clone(probeArgs),
			"--site-mode", "--namespace="+ns, "--follower-slowdown=20", "--site-lease-duration="+siteLease.String())...).kill
	}
	f.waitEntry(object, lm, "the site object carries the measurement", near(10*time.Millisecond))

	var leader, standby string
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		leader, standby = f.holder(ns, leaderLease), f.holder(ns, standbyLease)
		return leader != "" && standby != "" && leader != standby, nil
	}), "a leader and a standby; have %q and %q", leader, standby)
	follower := nodes[slices.IndexFunc(nodes, func(n string) bool { return n != leader && n != standby })]

	// Counted at the responder, until the leader has sent 40 more probes
	// (about 4.4 s at its 100 ms interval, jittered).
	rates := func(names ...string) map[string]int {
		t.Helper()
		start := map[string]int{}
		for _, n := range nodes {
			start[n] = counts.of(source[n])
		}
		require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			for _, n := range names {
				if counts.of(source[n])-start[n] < 40 {
					return false, nil
				}
			}
			return true, nil
		}), "40 probes each from %v", names)
		out := map[string]int{}
		for _, n := range nodes {
			out[n] = counts.of(source[n]) - start[n]
		}
		return out
	}
	got := rates(leader)
	t.Logf("probes answered while the leader sent 40: leader %d, standby %d, follower %d", got[leader], got[standby], got[follower])
	assert.GreaterOrEqual(t, got[standby], 25, "the standby probes at the full rate")
	assert.LessOrEqual(t, got[follower], 6, "the follower samples at 1/20 of the full rate (about 2)")

	// The leader fails without giving up its Lease.
	nn, err := f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, object, metav1.GetOptions{})
	require.NoError(t, err)
	killedAt := time.Now()
	kill[leader]()
	var newLeader string
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		newLeader = f.holder(ns, leaderLease)
		return newLeader != leader, nil
	}))
	took := time.Since(killedAt)
	t.Logf("the standby took over %s after the leader was killed (lease %s)", took.Round(10*time.Millisecond), siteLease)
	assert.Equal(t, standby, newLeader, "the standby takes over, not the follower")
	// One lease period from the leader's last renewal, plus the standby's
	// retry period (lease x 2/15, jittered) and this poll.
	assert.Less(t, took, siteLease+1500*time.Millisecond, "the standby takes over within one lease period")

	lastBefore := observedTime(nn, lm)
	e := f.waitEntry(object, lm, "the new leader writes the site object", func(e *v1alpha1.LandmarkRTT) bool {
		return e != nil && e.ObservedTime.After(killedAt)
	})
	// The leader writes an unchanged measurement only at the heartbeat (5s
	// here), so the object's last write before the kill was up to that old;
	// the new leader writes at once.
	t.Logf("the new leader wrote %s after the kill, with %d samples; the site object's measurement was %s old at its oldest",
		e.ObservedTime.Sub(killedAt).Round(10*time.Millisecond), e.Samples, e.ObservedTime.Sub(lastBefore).Round(10*time.Millisecond))
	assert.Less(t, e.ObservedTime.Sub(killedAt), siteLease+1500*time.Millisecond, "the site object stays fresh across the handover")
	// A 2 s window at 100 ms holds about 18 samples; a follower's, at 1/20
	// of the rate, one.
	assert.GreaterOrEqual(t, e.Samples, int32(10), "the new leader publishes at once from full windows")
	assert.InDelta(t, 10, float64(e.RTTP50Microseconds)/1000, 2)

	// The follower becomes the standby and probes at the full rate.
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return f.holder(ns, standbyLease) == follower, nil
	}), "the follower becomes the standby")
	got = rates(newLeader, follower)
	t.Logf("after the handover: leader %d, standby (the old follower) %d", got[newLeader], got[follower])
}

// observedTime is the time of the object's entry for the landmark.
func observedTime(nn *v1alpha1.NodeNetwork, landmark string) time.Time {
	for _, e := range nn.Status.Landmarks {
		if e.Landmark == landmark {
			return e.ObservedTime.Time
		}
	}
	return time.Time{}
}

// TestSiteModeNodeThatDiffersPublishesItsOwn: a node of a site whose RTT
// to the landmark is 30 ms more than its peers' publishes its own
// NodeNetwork, which the scheduler reads for it, while the site object
// keeps its peers' figure; once it measures as its site again, it deletes
// that object.
func TestSiteModeNodeThatDiffersPublishesItsOwn(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	slow := netip.MustParseAddr("127.0.0.63")
	l := f.echo("udp", 10*time.Millisecond, map[string]time.Duration{slow.String(): 40 * time.Millisecond})
	lm := f.prefix + "-users"
	f.probedLandmark(lm, v1alpha1.ProtocolUDPEcho, l.Addr().String())
	ns := f.siteNamespace()
	site := f.prefix + "-site"
	object := "site-" + site
	t.Cleanup(func() {
		ctx := context.Background()
		_ = f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, object, metav1.DeleteOptions{})
		for _, lease := range []string{"edgeplace-probe-" + object, "edgeplace-probe-" + object + "-standby"} {
			_ = f.e.kube.CoordinationV1().Leases(ns).Delete(ctx, lease, metav1.DeleteOptions{})
		}
	})
	flags := append(slices.Clone(probeArgs), "--site-mode", "--namespace="+ns, "--follower-slowdown=10",
		"--site-lease-duration="+siteLease.String())
	var nodes []string
	for i := range 3 {
		nodes = append(nodes, f.node(fmt.Sprintf("%s-%d", f.prefix, i), 4, map[string]string{v1alpha1.SiteLabel: site}).Name)
	}
	// The two in step with each other first, so that one of them leads.
	for i := range 2 {
		f.probeProcess(nodes[i], fmt.Sprintf("127.0.0.%d", 61+i), flags...)
	}
	f.waitEntry(object, lm, "the site object carries the site's 10 ms", near(10*time.Millisecond))
	f.probeProcess(nodes[2], slow.String(), flags...)

	own := f.waitEntry(nodes[2], lm, "the slow node publishes its own 40 ms", near(40*time.Millisecond))
	nn, err := f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, nodes[2], metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.ScopeNode, nn.Spec.Scope)
	t.Logf("own object: p50 %d us from %d samples", own.RTTP50Microseconds, own.Samples)
	f.waitEntry(object, lm, "the site object keeps its peers' figure", near(10*time.Millisecond))
	for _, n := range nodes[:2] {
		_, err := f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, n, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%s, in step with its site, has no object of its own", n)
	}

	// The scheduler reads the node's own figure: with an SLO of 20 ms,
	// pods go to the site's other nodes, not the slow one (the three nodes
	// are alike otherwise, so the stock plugins would spread them).
	f.syncMeasurements()
	for i := range 3 {
		name := fmt.Sprintf("slo-%d", i)
		f.pod(name, demand(lm, "20ms"), 100)
		assert.Contains(t, nodes[:2], f.waitBound(name, waitTimeout))
	}

	// Back in step: the node deletes its own object and rejoins its site.
	l.SetSourceDelay(slow, 10*time.Millisecond)
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := f.e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, nodes[2], metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}), "the node deletes its own object once it measures as its site")
}
