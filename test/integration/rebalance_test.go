package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
)

// The rebalancer's tests run the real edgeplace-descheduler with the
// shipped DeschedulerPolicy, its minutes scaled to seconds, as the
// edgeplace-descheduler service account with the shipped RBAC. No kubelet
// runs here: kubelet() stands in for the part of one the rebalancer
// depends on (pods report Running and Ready, and a deleted pod goes).

// policyArgs are the EdgeplaceRebalance args a test overrides.
type policyArgs = map[string]any

// startDescheduler runs edgeplace-descheduler until the test ends (or
// stop), one pass a second, and returns its log's path and stop, which
// ends it with SIGTERM.
func (f *fixture) startDescheduler(args policyArgs, extra ...string) (string, func()) {
	f.t.Helper()
	applyManifest(f.t, f.e.kube, "descheduler/rbac.yaml")
	kubeconfig, _, _ := serviceAccountKubeconfig(f.t, f.e, "kube-system", "edgeplace-descheduler")
	policy, err := manifests.DeschedulerPolicyWith(args)
	require.NoError(f.t, err)
	dir := f.t.TempDir()
	policyPath := filepath.Join(dir, "policy.yaml")
	require.NoError(f.t, os.WriteFile(policyPath, policy, 0o600))
	port, err := controlplane.FreePort()
	require.NoError(f.t, err)
	logPath := filepath.Join(f.e.logs, "descheduler-"+f.prefix+".log")
	out, err := os.Create(logPath)
	require.NoError(f.t, err)
	cmd := exec.Command(deschedulerBinary, append([]string{
		"--policy-config-file=" + policyPath, "--kubeconfig=" + kubeconfig,
		"--descheduling-interval=1s", "--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + dir, "-v=2",
	}, extra...)...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(f.t, cmd.Start())
	f.t.Logf("descheduler: log in %s", logPath)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				f.t.Errorf("the descheduler did not stop within 10s of SIGTERM (log in %s)", logPath)
			}
			out.Close()
		})
	}
	f.t.Cleanup(stop)
	return logPath, stop
}

// kubelet marks the fixture's bound pods Running and Ready and removes the
// ones being deleted, until the test ends, as kubelets would.
func (f *fixture) kubelet() {
	f.t.Cleanup(controlplane.StandInKubelet(context.Background(), f.e.kube, f.ns))
}

// replicaSet creates a ReplicaSet of n pods with the intent annotations,
// each requesting milliCPU, and waits until they are bound; it returns
// their nodes by pod name.
func (f *fixture) replicaSet(name string, n int32, annotations map[string]string, milliCPU int64) map[string]string {
	f.t.Helper()
	labels := map[string]string{"app": name}
	template := newPod(f.ns, "", annotations, milliCPU)
	_, err := f.e.kube.AppsV1().ReplicaSets(f.ns).Create(f.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Spec: template.Spec},
		},
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
	return f.waitReplicas(name, int(n), func(map[string]string) bool { return true })
}

// waitReplicas polls until the workload has n bound, ready pods that ok
// accepts (pod name -> node) and returns them.
func (f *fixture) waitReplicas(app string, n int, ok func(map[string]string) bool) map[string]string {
	f.t.Helper()
	var nodes map[string]string
	err := wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := f.e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false, err
		}
		nodes = map[string]string{}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" && p.DeletionTimestamp == nil && p.Status.Phase == v1.PodRunning {
				nodes[p.Name] = p.Spec.NodeName
			}
		}
		return len(nodes) == n && ok(nodes), nil
	})
	require.NoError(f.t, err, "%d replicas of %s bound and running; have %v", n, app, nodes)
	return nodes
}

// rebalanceEvents returns the rebalancer's events on the fixture's pods
// with the action, oldest first.
func (f *fixture) rebalanceEvents(action string) []eventsv1.Event {
	f.t.Helper()
	sel := fields.Set{"reason": v1alpha1.RebalanceReason}.AsSelector().String()
	list, err := f.e.kube.EventsV1().Events(f.ns).List(f.ctx, metav1.ListOptions{FieldSelector: sel})
	require.NoError(f.t, err)
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// waitRebalanceEvent polls until the rebalancer records an event with the
// action whose note contains want.
func (f *fixture) waitRebalanceEvent(action, want string) eventsv1.Event {
	f.t.Helper()
	var found eventsv1.Event
	var seen []string
	err := wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		seen = seen[:0]
		for _, e := range f.rebalanceEvents(action) {
			seen = append(seen, e.Note)
			if strings.Contains(e.Note, want) {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(f.t, err, "an %s event containing %q; saw %q", action, want, seen)
	return found
}

// edgeSites makes the nodes and measurements every rebalancing test starts
// from: users at lm, nodes a (5 ms), b (10 ms) and spare (15 ms), one core
// each, and a ReplicaSet of two 600m pods with a 20 ms SLO, which fill a
// and b.
func (f *fixture) edgeSites(lm string) (a, b, spare *v1.Node, pods map[string]string) {
	f.t.Helper()
	f.landmark(lm)
	a, b, spare = f.node(f.prefix+"-a", 1, nil), f.node(f.prefix+"-b", 1, nil), f.node(f.prefix+"-spare", 1, nil)
	f.publish(a, rtt{landmark: lm, p90: 5 * time.Millisecond})
	f.publish(b, rtt{landmark: lm, p90: 10 * time.Millisecond})
	f.publish(spare, rtt{landmark: lm, p90: 15 * time.Millisecond})
	f.syncMeasurements()
	f.cordonBarrier()
	f.kubelet()
	pods = f.replicaSet("live", 2, demand(lm, "20ms"), 600)
	got := map[string]bool{}
	for _, n := range pods {
		got[n] = true
	}
	require.Equal(f.t, map[string]bool{a.Name: true, b.Name: true}, got, "the replicas fill the two nearest nodes")
	return a, b, spare, pods
}

func podOn(pods map[string]string, node string) string {
	for p, n := range pods {
		if n == node {
			return p
		}
	}
	return ""
}

// grantReplacementNode applies placeReplacementOnTarget's RBAC, and waits
// until the authorizer has it, until the test ends: the binding is
// cluster-wide, and the control plane shared.
func grantReplacementNode(t testing.TB, e *env) {
	t.Helper()
	applyManifest(t, e.kube, "descheduler/rbac-replacement-node.yaml")
	require.NoError(t, wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		review, err := e.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "system:serviceaccount:kube-system:edgeplace-descheduler",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods"},
			},
		}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, nil
	}), "the descheduler may patch pods")
	t.Cleanup(func() {
		const name = "edgeplace-descheduler-replacement-node"
		ctx := context.Background()
		_ = e.kube.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = e.kube.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
	})
}

// TestRebalancePlacesTheReplacementOnTarget: with placeReplacementOnTarget
// (and its RBAC), the rebalancer writes the node it expects on the pod it
// evicts, and the scheduler's decision for the replacement says it placed
// it there for that reason.
func TestRebalancePlacesTheReplacementOnTarget(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, _, spare, pods := f.edgeSites(lm)
	grantReplacementNode(t, f.e)
	f.startDescheduler(policyArgs{"sloGracePeriod": "2s", "gapGracePeriod": "1h", "cooldown": "1h", "placeReplacementOnTarget": true})
	degraded := podOn(pods, a.Name)
	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	f.waitRebalanceEvent(v1alpha1.RebalanceEvicted, "expected 13.5ms on node "+spare.Name)
	moved := f.waitReplicas("live", 2, func(nodes map[string]string) bool { return podOn(nodes, spare.Name) != "" })
	assert.Contains(t, f.decisionNote(podOn(moved, spare.Name)), "the node the rebalancer expected when it evicted pod "+degraded)
}

// TestRebalanceMovesAPodOffADegradedSite: a site's RTT to the users rises
// past the SLO; once it has for the grace period, the rebalancer evicts
// the pod there, with an event naming both RTTs, and the scheduler places
// the replacement on the free node within the SLO. When the new node
// degrades too, the workload's cooldown keeps it from moving again.
func TestRebalanceMovesAPodOffADegradedSite(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, b, spare, pods := f.edgeSites(lm)
	f.startDescheduler(policyArgs{"sloGracePeriod": "2s", "gapGracePeriod": "1h", "cooldown": "1h"})
	degraded := podOn(pods, a.Name)

	degradedAt := time.Now()
	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	ev := f.waitRebalanceEvent(v1alpha1.RebalanceEvicted, "expected 13.5ms on node "+spare.Name)
	assert.Equal(t, degraded, ev.Regarding.Name)
	assert.Equal(t, "ReplicaSet", ev.Related.Kind, "the event relates to the workload")
	assert.Contains(t, ev.Note, "on node "+a.Name+" the demand-weighted p50 RTT is 45.0ms")
	assert.Contains(t, ev.Note, "beyond its 20.0ms SLO")
	assert.GreaterOrEqual(t, ev.EventTime.Sub(degradedAt), 2*time.Second, "not before the grace period")

	moved := f.waitReplicas("live", 2, func(nodes map[string]string) bool { return podOn(nodes, spare.Name) != "" })
	assert.Empty(t, podOn(moved, a.Name), "nothing left on the degraded node")
	assert.NotEmpty(t, podOn(moved, b.Name), "the healthy replica stays")
	_, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, degraded, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the evicted pod is gone")
	// By default the scheduler placed it on its own view, not told where.
	assert.NotContains(t, f.decisionNote(podOn(moved, spare.Name)), "the node the rebalancer expected")
	// explain on the replacement says why it was made.
	explained := f.kubectlEdgeplace("explain", podOn(moved, spare.Name))
	assert.Contains(t, explained, "Recorded by the rebalancer")
	assert.Contains(t, explained, "moved pod "+degraded+" of this pod's ReplicaSet live: evicted: on node "+a.Name)

	// The new home degrades too, and a is healthy again: the workload is
	// cooling down, so the pod stays, and says why.
	f.publish(a, rtt{landmark: lm, p90: 5 * time.Millisecond})
	f.publish(spare, rtt{landmark: lm, p90: 60 * time.Millisecond})
	skip := f.waitRebalanceEvent(v1alpha1.RebalanceSkipped, "cooldown")
	assert.Equal(t, podOn(moved, spare.Name), skip.Regarding.Name)
	assert.Equal(t, v1.EventTypeWarning, skip.Type)
	assert.Len(t, f.rebalanceEvents(v1alpha1.RebalanceEvicted), 1, "one move per cooldown")
}

// decisionNote polls for NetworkLatency's decision event on the pod (the
// framework's broadcaster writes it asynchronously) and returns its note.
func (f *fixture) decisionNote(pod string) string {
	f.t.Helper()
	sel := fields.Set{"reason": v1alpha1.DecisionReason, "regarding.name": pod}.AsSelector().String()
	var note string
	err := wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		list, err := f.e.kube.EventsV1().Events(f.ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil || len(list.Items) == 0 {
			return false, err
		}
		note = list.Items[len(list.Items)-1].Note
		return true, nil
	})
	require.NoError(f.t, err, "a decision event on pod %s", pod)
	return note
}

// TestReplacementGoesWhereTheRebalancerExpects: the scheduler places the
// replacement of a pod evicted with the rebalancer's expected node on it
// on that node, though nearer nodes are free; the decision event says so.
// An expectation whose deadline has passed steers nothing.
func TestReplacementGoesWhereTheRebalancerExpects(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	f.landmark(lm)
	a, b := f.node(f.prefix+"-a", 1, nil), f.node(f.prefix+"-b", 1, nil)
	nearer, spare := f.node(f.prefix+"-nearer", 1, nil), f.node(f.prefix+"-spare", 1, nil)
	for n, ms := range map[*v1.Node]time.Duration{a: 5, b: 10, nearer: 12, spare: 15} {
		f.publish(n, rtt{landmark: lm, p90: ms * time.Millisecond})
	}
	f.syncMeasurements()
	f.cordonBarrier()
	f.kubelet()
	pods := f.replicaSet("live", 2, demand(lm, "20ms"), 600)
	require.ElementsMatch(t, []string{a.Name, b.Name}, slices.Collect(maps.Values(pods)), "the replicas fill the two nearest nodes")

	evict := func(pod, node string, deadline time.Time) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q,%q:%q}}}`,
			v1alpha1.ReplacementNodeAnnotation, node, v1alpha1.ReplacementDeadlineAnnotation, deadline.UTC().Format(time.RFC3339))
		_, err := f.e.kube.CoreV1().Pods(f.ns).Patch(f.ctx, pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		require.NoError(t, err)
		require.NoError(t, f.e.kube.PolicyV1().Evictions(f.ns).Evict(f.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: f.ns}}))
	}
	moved := podOn(pods, a.Name)
	evict(moved, spare.Name, time.Now().Add(time.Minute))
	after := f.waitReplicas("live", 2, func(nodes map[string]string) bool { _, still := nodes[moved]; return !still })
	replacement := podOn(after, spare.Name)
	require.NotEmpty(t, replacement, "the replacement is on %s (15ms), not on %s (5ms, free again) or %s (12ms): %v", spare.Name, a.Name, nearer.Name, after)
	assert.Contains(t, f.decisionNote(replacement), "the node the rebalancer expected when it evicted pod "+moved)

	// Past its deadline, the expectation is not taken: the replacement
	// goes to the nearest free node, not to the one named.
	stale := podOn(after, b.Name)
	evict(stale, nearer.Name, time.Now().Add(-time.Second))
	after = f.waitReplicas("live", 2, func(nodes map[string]string) bool { _, still := nodes[stale]; return !still })
	next := ""
	for p, n := range after {
		if p != replacement {
			next = n
		}
	}
	assert.Contains(t, []string{a.Name, b.Name}, next, "the nearest free nodes, not %s", nearer.Name)
}

// TestRebalanceCooldownOutlivesARestart: a descheduler that starts after
// another moved a pod (a restart, or a standby taking over) holds that
// move's cooldown: when the replacement's node degrades too, it does not
// move the workload again.
func TestRebalanceCooldownOutlivesARestart(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, b, spare, _ := f.edgeSites(lm)
	args := policyArgs{"sloGracePeriod": "2s", "gapGracePeriod": "1h", "cooldown": "1h"}
	_, stop := f.startDescheduler(args)

	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	f.waitRebalanceEvent(v1alpha1.RebalanceEvicted, "expected 13.5ms on node "+spare.Name)
	moved := f.waitReplicas("live", 2, func(nodes map[string]string) bool { return podOn(nodes, spare.Name) != "" })
	stop()

	f.startDescheduler(args)
	f.publish(a, rtt{landmark: lm, p90: 5 * time.Millisecond})
	f.publish(spare, rtt{landmark: lm, p90: 60 * time.Millisecond})
	skip := f.waitRebalanceEvent(v1alpha1.RebalanceSkipped, "cooldown")
	assert.Equal(t, podOn(moved, spare.Name), skip.Regarding.Name)
	assert.Len(t, f.rebalanceEvents(v1alpha1.RebalanceEvicted), 1, "one move per cooldown, across the restart")
	now := f.waitReplicas("live", 2, func(map[string]string) bool { return true })
	assert.Equal(t, podOn(moved, spare.Name), podOn(now, spare.Name), "the replica on the degraded node stays")
	assert.Equal(t, podOn(moved, b.Name), podOn(now, b.Name), "and so does the healthy one")
}

// TestRebalanceRespectsPDB: a PodDisruptionBudget that allows no
// disruption refuses the eviction; the pod stays and its event says so.
func TestRebalanceRespectsPDB(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, _, _, pods := f.edgeSites(lm)
	pdb, err := f.e.kube.PolicyV1().PodDisruptionBudgets(f.ns).Create(f.ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "live"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "live"}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The status the disruption controller (which does not run here) would
	// write: two of two healthy, none may go.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 0,
		CurrentHealthy: 2, DesiredHealthy: 2, ExpectedPods: 2}
	_, err = f.e.kube.PolicyV1().PodDisruptionBudgets(f.ns).UpdateStatus(f.ctx, pdb, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.startDescheduler(policyArgs{"sloGracePeriod": "1s", "gapGracePeriod": "1h"})

	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	skip := f.waitRebalanceEvent(v1alpha1.RebalanceSkipped, "the eviction was refused")
	assert.Equal(t, podOn(pods, a.Name), skip.Regarding.Name)
	assert.Contains(t, skip.Note, "disruption budget", "the refusal names the budget")
	p, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, podOn(pods, a.Name), metav1.GetOptions{})
	require.NoError(t, err)
	assert.Nil(t, p.DeletionTimestamp, "the pod stays")
	assert.Empty(t, f.rebalanceEvents(v1alpha1.RebalanceEvicted))
}

// TestRebalanceIgnoresAnOscillatingNetwork: a site that flips between
// good and bad faster than the grace period never loses its pod; held bad,
// it does, a grace period after it last turned bad.
func TestRebalanceIgnoresAnOscillatingNetwork(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, _, spare, _ := f.edgeSites(lm)
	f.startDescheduler(policyArgs{"sloGracePeriod": "3s", "gapGracePeriod": "1h"})

	// Bad for a second, good for a second, for four grace periods: the
	// network this test drives, not a wait for the rebalancer.
	flip := time.NewTicker(time.Second)
	defer flip.Stop()
	for i := range 12 {
		d := 5 * time.Millisecond
		if i%2 == 0 {
			d = 50 * time.Millisecond
		}
		f.publish(a, rtt{landmark: lm, p90: d})
		<-flip.C
	}
	assert.Empty(t, f.rebalanceEvents(v1alpha1.RebalanceEvicted), "no move while the network oscillates")

	heldAt := time.Now()
	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	ev := f.waitRebalanceEvent(v1alpha1.RebalanceEvicted, "expected 13.5ms on node "+spare.Name)
	assert.GreaterOrEqual(t, ev.EventTime.Sub(heldAt), 3*time.Second, "a grace period after it turned bad for good")
}

// TestRebalanceDryRun: with --dry-run the rebalancer says what it would
// move and moves nothing.
func TestRebalanceDryRun(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	a, _, spare, pods := f.edgeSites(lm)
	f.startDescheduler(policyArgs{"sloGracePeriod": "1s", "gapGracePeriod": "1h"}, "--dry-run")

	f.publish(a, rtt{landmark: lm, p90: 50 * time.Millisecond})
	ev := f.waitRebalanceEvent(v1alpha1.RebalanceWouldEvict, "expected 13.5ms on node "+spare.Name)
	assert.Contains(t, ev.Note, "would evict (dry run)")
	p, err := f.e.kube.CoreV1().Pods(f.ns).Get(f.ctx, podOn(pods, a.Name), metav1.GetOptions{})
	require.NoError(t, err)
	assert.Nil(t, p.DeletionTimestamp, "nothing is evicted")
	assert.Empty(t, f.rebalanceEvents(v1alpha1.RebalanceEvicted))
}

// TestDeschedulerLeastPrivilege: the shipped RBAC lets the rebalancer read
// and evict (the tests above run with it) and nothing more; with
// placeReplacementOnTarget's, it may patch pods too.
func TestDeschedulerLeastPrivilege(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	applyManifest(t, f.e.kube, "descheduler/rbac.yaml")
	_, kube, edge := serviceAccountKubeconfig(t, f.e, "kube-system", "edgeplace-descheduler")
	ctx := t.Context()
	node := f.node(f.prefix+"-n", 1, nil)
	pod := f.pod("p", nil, 0)

	_, err := kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
	assert.NoError(t, err, "reads pods")
	_, err = edge.EdgeplaceV1alpha1().NodeNetworks().List(ctx, metav1.ListOptions{})
	assert.NoError(t, err, "reads measurements")
	_, err = kube.EventsV1().Events("").List(ctx, metav1.ListOptions{})
	assert.NoError(t, err, "reads the moves recorded as events")
	forbidden := func(what string, err error) {
		t.Helper()
		assert.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
	}
	patchPod := func() error {
		_, err := kube.CoreV1().Pods(f.ns).Patch(ctx, pod.Name, types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"`+v1alpha1.ReplacementNodeAnnotation+`":"`+node.Name+`"}}}`), metav1.PatchOptions{})
		return err
	}
	forbidden("patch a pod", patchPod())
	forbidden("delete a pod", kube.CoreV1().Pods(f.ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}))
	forbidden("delete a node", kube.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}))
	forbidden("delete events", kube.EventsV1().Events(f.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}))
	_, err = kube.CoreV1().Pods(f.ns).Create(ctx, newPod(f.ns, "q", nil, 0), metav1.CreateOptions{})
	forbidden("create a pod", err)
	_, err = kube.AppsV1().ReplicaSets(f.ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r"}}, metav1.CreateOptions{})
	forbidden("create a ReplicaSet", err)
	forbidden("delete a NodeNetwork", edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, node.Name, metav1.DeleteOptions{}))
	_, err = kube.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{})
	forbidden("list secrets", err)

	// With placeReplacementOnTarget's RBAC, it may patch pods, and still
	// not update or delete them.
	grantReplacementNode(t, f.e)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, waitTimeout, true, func(context.Context) (bool, error) {
		return patchPod() == nil, nil
	}), "writes the node it expects a replacement on")
	_, err = kube.CoreV1().Pods(f.ns).Update(ctx, pod, metav1.UpdateOptions{})
	forbidden("update a pod", err)
	forbidden("delete a pod", kube.CoreV1().Pods(f.ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}))
}
