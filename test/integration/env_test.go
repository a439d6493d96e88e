package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
)

const schedulerName = "edgeplace-scheduler"

// env is a control plane with the edgeplace scheduler running against it.
type env struct {
	cp    *controlplane.ControlPlane
	kube  kubernetes.Interface
	edge  edgeclient.Interface
	sched *schedulerproc.Process
	logs  string // where the API server's and scheduler's logs go
}

func startEnv(ctx context.Context, opts controlplane.Options) (*env, error) {
	return startEnvWith(ctx, opts, nil)
}

// startEnvWith starts an env whose scheduler runs with schedulerConfig
// (nil: the shipped one).
func startEnvWith(ctx context.Context, opts controlplane.Options, schedulerConfig []byte) (*env, error) {
	dir, err := os.MkdirTemp("", "edgeplace-env-")
	if err != nil {
		return nil, err
	}
	e := &env{logs: dir}
	apiLog, err := os.Create(filepath.Join(dir, "controlplane.log"))
	if err != nil {
		return nil, err
	}
	opts.Log = apiLog
	if e.cp, err = controlplane.Start(ctx, opts); err != nil {
		return nil, err
	}
	e.kube = kubernetes.NewForConfigOrDie(e.cp.Config())
	e.edge = edgeclient.NewForConfigOrDie(e.cp.Config())
	schedLog, err := os.Create(filepath.Join(dir, "scheduler.log"))
	if err != nil {
		e.stop()
		return nil, err
	}
	e.sched, err = schedulerproc.Start(ctx, schedulerproc.Options{
		Binary: schedulerBinary, Kubeconfig: e.cp.KubeconfigPath(), Dir: dir, Output: schedLog, Config: schedulerConfig,
		// For debugging, e.g. EDGEPLACE_SCHEDULER_ARGS=-v=5.
		Args: strings.Fields(os.Getenv("EDGEPLACE_SCHEDULER_ARGS")),
	})
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("starting the scheduler (log in %s): %w", dir, err)
	}
	return e, nil
}

func (e *env) stop() {
	if e.sched != nil {
		_ = e.sched.Stop(10 * time.Second)
	}
	if e.cp != nil {
		e.cp.Stop()
	}
}

var (
	sharedOnce sync.Once
	shared     *env
	sharedErr  error
)

// sharedEnv is one control plane and scheduler for the tests that can share
// them; each such test works in its own namespace with its own nodes and
// landmarks and removes them when it ends.
func sharedEnv(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = startEnv(context.Background(), controlplane.Options{Controllers: true})
	})
	require.NoError(t, sharedErr)
	t.Logf("logs: %s", shared.logs)
	return shared
}

func stopSharedEnv() {
	if shared != nil {
		shared.stop()
	}
}

// ownEnv starts a control plane and scheduler for one test (which may stop,
// kill or restart them) and gives it a fixture on them.
func ownEnv(t *testing.T) (*env, *fixture) {
	t.Helper()
	e, err := startEnv(t.Context(), controlplaneOptions())
	require.NoError(t, err)
	t.Cleanup(e.stop)
	return e, newFixture(t, e)
}

var fixtures int

// fixture creates objects for one test and deletes them when it ends.
type fixture struct {
	t        testing.TB
	e        *env
	ctx      context.Context
	prefix   string
	ns       string
	barrier  *v1.Node
	barriers int
}

func newFixture(t testing.TB, e *env) *fixture {
	t.Helper()
	prefix := strings.ToLower(strings.NewReplacer("_", "-", "/", "-", "=", "-").Replace(t.Name()))
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	prefix = strings.Trim(prefix, "-")
	// Namespaces outlive tests (no namespace controller runs to finish
	// deleting them), so each fixture takes a fresh one.
	fixtures++
	ns := fmt.Sprintf("%s-%d", prefix, fixtures)
	f := &fixture{t: t, e: e, ctx: t.Context(), prefix: prefix, ns: ns}
	_, err := e.kube.CoreV1().Namespaces().Create(f.ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(f.cleanup)
	return f
}

func (f *fixture) testLabel() map[string]string {
	return map[string]string{"edgeplace.io/test": f.prefix}
}

func (f *fixture) cleanup() {
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "edgeplace.io/test=" + f.prefix}
	now := int64(0)
	pods, _ := f.e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		_ = f.e.kube.CoreV1().Pods(f.ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &now})
	}
	// No garbage collector runs here, so owner references do not cascade.
	_ = f.e.edge.EdgeplaceV1alpha1().NodeNetworks().DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	_ = f.e.edge.EdgeplaceV1alpha1().Landmarks().DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	_ = f.e.kube.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
}

// node creates a schedulable Node with the given CPU capacity (cores).
func (f *fixture) node(name string, cpu int64, labels map[string]string) *v1.Node {
	f.t.Helper()
	all := f.testLabel()
	for k, v := range labels {
		all[k] = v
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(cpu, resource.DecimalSI),
		v1.ResourceMemory: resource.MustParse("32Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all},
		Status: v1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	created, err := f.e.kube.CoreV1().Nodes().Create(f.ctx, n, metav1.CreateOptions{})
	require.NoError(f.t, err)
	created.Status = n.Status
	created, err = f.e.kube.CoreV1().Nodes().UpdateStatus(f.ctx, created, metav1.UpdateOptions{})
	require.NoError(f.t, err)
	return created
}

func (f *fixture) landmark(name string) {
	f.t.Helper()
	_, err := f.e.edge.EdgeplaceV1alpha1().Landmarks().Create(f.ctx, &v1alpha1.Landmark{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: f.testLabel()},
		Spec:       v1alpha1.LandmarkSpec{Addresses: []string{"192.0.2.1:7"}},
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
}

// rtt is one measurement as a probe would publish it.
type rtt struct {
	landmark string
	p90      time.Duration
	observed time.Time
}

// publish creates or updates the node's NodeNetwork, owned by the node, and
// writes the measurements to its status as a probe would.
func (f *fixture) publish(node *v1.Node, measurements ...rtt) {
	f.t.Helper()
	api := f.e.edge.EdgeplaceV1alpha1().NodeNetworks()
	nn := f.nodeNetwork(node)
	nn.Status.Landmarks = nil
	for _, m := range measurements {
		observed := m.observed
		if observed.IsZero() {
			observed = time.Now()
		}
		us := m.p90.Microseconds()
		nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
			Landmark: m.landmark, RTTP50Microseconds: us * 9 / 10, RTTP90Microseconds: us,
			Samples: 30, ObservedTime: metav1.NewTime(observed),
		})
	}
	_, err := api.UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}

// syncMeasurements returns once the scheduler's network map holds every
// NodeNetwork written so far. It writes one more NodeNetwork, for a barrier
// node, with a measurement to a new landmark, and waits until a pod that
// only that measurement admits is bound. NodeNetworks reach the map through
// one watch, in order, so the map then holds every earlier write too.
func (f *fixture) syncMeasurements() {
	f.t.Helper()
	if f.barrier == nil {
		f.barrier = f.node(f.prefix+"-barrier", 1, nil)
	}
	f.barriers++
	lm := fmt.Sprintf("%s-barrier-%d", f.prefix, f.barriers)
	f.landmark(lm)
	f.publish(f.barrier, rtt{landmark: lm, p90: time.Millisecond})
	name := fmt.Sprintf("barrier-%d", f.barriers)
	f.pod(name, demand(lm, "2ms"), 0)
	require.Equal(f.t, f.barrier.Name, f.waitBound(name, waitTimeout))
	now := int64(0)
	require.NoError(f.t, f.e.kube.CoreV1().Pods(f.ns).Delete(f.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &now}))
}

// cordonBarrier marks the barrier node unschedulable, once the test no
// longer needs syncMeasurements.
func (f *fixture) cordonBarrier() {
	f.t.Helper()
	if f.barrier == nil {
		return
	}
	n, err := f.e.kube.CoreV1().Nodes().Get(f.ctx, f.barrier.Name, metav1.GetOptions{})
	require.NoError(f.t, err)
	n.Spec.Unschedulable = true
	_, err = f.e.kube.CoreV1().Nodes().Update(f.ctx, n, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}

// pod creates a pod for the edgeplace scheduler with the given intent
// annotations and CPU request (millicores; 0 for none).
func (f *fixture) pod(name string, annotations map[string]string, milliCPU int64) *v1.Pod {
	f.t.Helper()
	p := newPod(f.ns, name, annotations, milliCPU)
	created, err := f.e.kube.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(f.t, err)
	return created
}

func newPod(ns, name string, annotations map[string]string, milliCPU int64) *v1.Pod {
	c := v1.Container{Name: "app", Image: "registry.k8s.io/pause:3.10"}
	if milliCPU > 0 {
		c.Resources.Requests = v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(milliCPU, resource.DecimalSI)}
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       v1.PodSpec{SchedulerName: schedulerName, Containers: []v1.Container{c}},
	}
}

func demand(landmarks string, slo string) map[string]string {
	a := map[string]string{v1alpha1.DemandAnnotation: landmarks}
	if slo != "" {
		a[v1alpha1.MaxRTTAnnotation] = slo
	}
	return a
}

const waitTimeout = 30 * time.Second

// pollPod polls the pod until done says so, or timeout passes.
func (f *fixture) pollPod(name string, timeout time.Duration, done func(*v1.Pod) bool) error {
	return wait.PollUntilContextTimeout(f.ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := f.e.kube.CoreV1().Pods(f.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return done(p), nil
	})
}

// unschedulableMessage is the message of the pod's PodScheduled=False
// condition, if it has one.
func unschedulableMessage(p *v1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
			return c.Message, true
		}
	}
	return "", false
}

// waitBound polls until the pod is bound and returns its node.
func (f *fixture) waitBound(name string, timeout time.Duration) string {
	f.t.Helper()
	var node string
	err := f.pollPod(name, timeout, func(p *v1.Pod) bool {
		node = p.Spec.NodeName
		return node != ""
	})
	require.NoError(f.t, err, "pod %s/%s was not bound within %s (%s)", f.ns, name, timeout, f.condition(name))
	return node
}

// waitUnschedulable polls until the pod's PodScheduled condition is False and
// returns its message.
func (f *fixture) waitUnschedulable(name string) string {
	f.t.Helper()
	var msg string
	err := f.pollPod(name, waitTimeout, func(p *v1.Pod) bool {
		require.Empty(f.t, p.Spec.NodeName, "pod %s must not be bound", name)
		m, ok := unschedulableMessage(p)
		msg = m
		return ok
	})
	require.NoError(f.t, err, "pod %s/%s never reported Unschedulable", f.ns, name)
	return msg
}

// waitUnschedulableWith polls until the pod's PodScheduled condition is
// False with a message containing want, and returns the message.
func (f *fixture) waitUnschedulableWith(name, want string) string {
	f.t.Helper()
	var msg string
	err := f.pollPod(name, waitTimeout, func(p *v1.Pod) bool {
		m, ok := unschedulableMessage(p)
		if ok {
			msg = m
		}
		return ok && strings.Contains(m, want)
	})
	require.NoError(f.t, err, "pod %s/%s: want a reason containing %q, last: %q", f.ns, name, want, msg)
	return msg
}

func (f *fixture) condition(name string) string {
	p, err := f.e.kube.CoreV1().Pods(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled {
			return fmt.Sprintf("PodScheduled=%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "no PodScheduled condition"
}

func controlplaneOptions() controlplane.Options { return controlplane.Options{} }

// nodeNetwork is the node's NodeNetwork, created (owned by the node) if it
// has none yet.
func (f *fixture) nodeNetwork(node *v1.Node) *v1alpha1.NodeNetwork {
	f.t.Helper()
	api := f.e.edge.EdgeplaceV1alpha1().NodeNetworks()
	nn, err := api.Get(f.ctx, node.Name, metav1.GetOptions{})
	if err != nil {
		nn, err = api.Create(f.ctx, &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{
			Name: node.Name, Labels: f.testLabel(),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}},
		}}, metav1.CreateOptions{})
		require.NoError(f.t, err)
	}
	return nn
}

// publishEgress sets the egress capacity and billing zone in the node's
// NodeNetwork, as a probe configured with them would.
func (f *fixture) publishEgress(node *v1.Node, capacityMbps int64, zone string) {
	f.t.Helper()
	api := f.e.edge.EdgeplaceV1alpha1().NodeNetworks()
	nn := f.nodeNetwork(node)
	nn.Status.EgressCapacityMbps = &capacityMbps
	nn.Status.BillingZone = zone
	_, err := api.UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}
