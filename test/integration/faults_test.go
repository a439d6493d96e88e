package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
)

// bindingWatch records, from a watch on the namespace's pods, every node
// each pod was seen bound to: a pod bound twice shows two.
type bindingWatch struct {
	mu    sync.Mutex
	nodes map[string]map[string]bool
}

func (f *fixture) watchBindings() *bindingWatch {
	f.t.Helper()
	b := &bindingWatch{nodes: map[string]map[string]bool{}}
	w, err := f.e.kube.CoreV1().Pods(f.ns).Watch(f.ctx, metav1.ListOptions{})
	require.NoError(f.t, err)
	f.t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*v1.Pod)
			if !ok || ev.Type == watch.Deleted || p.Spec.NodeName == "" {
				continue
			}
			b.mu.Lock()
			if b.nodes[p.Name] == nil {
				b.nodes[p.Name] = map[string]bool{}
			}
			b.nodes[p.Name][p.Spec.NodeName] = true
			b.mu.Unlock()
		}
	}()
	return b
}

// bound counts the pods seen bound; rebound lists those seen on two nodes.
func (b *bindingWatch) bound() (n int, rebound []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for pod, nodes := range b.nodes {
		n++
		if len(nodes) > 1 {
			rebound = append(rebound, pod)
		}
	}
	return n, rebound
}

func (b *bindingWatch) waitBound(t *testing.T, ctx context.Context, want int, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		n, _ := b.bound()
		return n >= want, nil
	})
	n, _ := b.bound()
	require.NoError(t, err, "%d of %d pods bound", n, want)
}

// edgeCluster gives the fixture nodes across a few measured sites.
func (f *fixture) edgeCluster(lm string, nodes int) {
	f.t.Helper()
	f.landmark(lm)
	for i := range nodes {
		n := f.node(fmt.Sprintf("%s-n%02d", f.prefix, i), 64, nil)
		f.publish(n, rtt{landmark: lm, p90: time.Duration(2+i) * time.Millisecond})
	}
}

// startScheduler starts another edgeplace-scheduler process on the
// environment, with the shipped configuration and the given kubeconfig
// ("" for the admin one); its log is <name>.log in the environment's logs.
func startScheduler(t *testing.T, e *env, name, kubeconfig string) *schedulerproc.Process {
	t.Helper()
	if kubeconfig == "" {
		kubeconfig = e.cp.KubeconfigPath()
	}
	log, err := os.Create(filepath.Join(e.logs, name+".log"))
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	dir := filepath.Join(e.logs, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p, err := schedulerproc.Start(t.Context(), schedulerproc.Options{
		Binary: schedulerBinary, Kubeconfig: kubeconfig, Dir: dir, Output: log,
	})
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	return p
}

// TestSchedulerKilledMidStream: SIGKILL the scheduler while a stream of
// pods is being placed, start it again, and every pod ends bound exactly
// once: none lost, none bound twice.
func TestSchedulerKilledMidStream(t *testing.T) {
	e, f := ownEnv(t)
	lm := f.prefix + "-users"
	f.edgeCluster(lm, 10)
	bindings := f.watchBindings()

	const pods = 400
	created := make(chan struct{})
	go func() {
		defer close(created)
		for i := range pods {
			if _, err := e.kube.CoreV1().Pods(f.ns).Create(f.ctx, newPod(f.ns, fmt.Sprintf("p%03d", i), demand(lm, ""), 10), metav1.CreateOptions{}); err != nil {
				t.Errorf("creating pod %d: %v", i, err)
				return
			}
		}
	}()
	bindings.waitBound(t, f.ctx, pods/4, waitTimeout)
	require.NoError(t, e.sched.Kill())
	n, _ := bindings.bound()
	t.Logf("scheduler killed with %d of %d pods bound", n, pods)

	e.sched = startScheduler(t, e, "scheduler-restarted", "")
	<-created
	bindings.waitBound(t, f.ctx, pods, 2*time.Minute)
	n, rebound := bindings.bound()
	assert.Equal(t, pods, n)
	assert.Empty(t, rebound, "pods seen bound to two nodes")
	list, err := e.kube.CoreV1().Pods(f.ns).List(f.ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range list.Items {
		assert.NotEmpty(t, p.Spec.NodeName, p.Name)
	}
}

// TestLeaderElectionFailover: two scheduler processes with the shipped
// configuration (its own lease, kube-system/edgeplace-scheduler): only the
// leader binds; kill it and the other takes over.
func TestLeaderElectionFailover(t *testing.T) {
	e, f := ownEnv(t)
	lm := f.prefix + "-users"
	f.edgeCluster(lm, 3)
	standby := startScheduler(t, e, "scheduler-standby", "")
	require.NotEqual(t, e.sched.Pid(), standby.Pid())

	holder := func() string {
		var lease *coordinationv1.Lease
		require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
			l, err := e.kube.CoordinationV1().Leases("kube-system").Get(ctx, "edgeplace-scheduler", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			lease = l
			return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", nil
		}))
		return *lease.Spec.HolderIdentity
	}
	first := holder()
	f.pod("before", demand(lm, ""), 10)
	f.waitBound("before", waitTimeout)

	// Kill whichever process leads; the identity names the process by
	// host and a random id, so kill the one that started first: it had
	// the lease before the standby existed.
	require.NoError(t, e.sched.Kill())
	began := time.Now()
	var second string
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		second = holder()
		return second != first, nil
	}), "the standby never took the lease")
	t.Logf("lease moved from %s to %s in %s", first, second, time.Since(began).Round(100*time.Millisecond))
	f.pod("after", demand(lm, ""), 10)
	f.waitBound("after", waitTimeout)
	select {
	case <-standby.Done():
		t.Fatal("the standby exited")
	default:
	}
}

// TestAPIServerRestartMidStream: the API server goes away and comes back on
// the same address while pods stream in and a probe publishes; neither the
// scheduler nor the probe is restarted, every pod is bound, and the probe's
// measurements keep coming.
func TestAPIServerRestartMidStream(t *testing.T) {
	e, f := ownEnv(t)
	lm := f.prefix + "-users"
	echo := f.echo("tcp", 3*time.Millisecond, nil)
	f.probedLandmark(lm, v1alpha1.ProtocolTCPEcho, echo.Addr().String())
	node := f.node(f.prefix+"-probed", 64, nil)
	f.startProbe(node.Name, "127.0.0.41", "--heartbeat=1s", "--write-interval=500ms")
	f.waitEntry(node.Name, lm, "measured before the restart", near(3*time.Millisecond))
	bindings := f.watchBindings()
	schedulerPid := e.sched.Pid()

	for i := range 20 {
		f.pod(fmt.Sprintf("before-%d", i), demand(lm, ""), 10)
	}
	require.NoError(t, e.cp.StopAPIServer())
	stoppedAt := time.Now()
	require.NoError(t, e.cp.StartAPIServer(f.ctx))
	for i := range 20 {
		f.pod(fmt.Sprintf("after-%d", i), demand(lm, ""), 10)
	}
	bindings = f.watchBindings() // the first watch ended with the API server
	list := func() int {
		pods, err := e.kube.CoreV1().Pods(f.ns).List(f.ctx, metav1.ListOptions{})
		require.NoError(t, err)
		bound := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound
	}
	require.NoError(t, wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return list() == 40, nil
	}), "%d of 40 pods bound", list())
	_, rebound := bindings.bound()
	assert.Empty(t, rebound)
	assert.Equal(t, schedulerPid, e.sched.Pid(), "the same scheduler process")
	select {
	case <-e.sched.Done():
		t.Fatal("the scheduler exited")
	default:
	}
	f.waitEntry(node.Name, lm, "written again after the restart", func(e *v1alpha1.LandmarkRTT) bool {
		return e != nil && e.ObservedTime.After(stoppedAt)
	})
}
