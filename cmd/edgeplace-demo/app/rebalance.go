package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
)

// The rebalancing step: live ingest as a Deployment of two replicas with
// its SLO, the site of one of them degrading towards its viewers, and
// edgeplace-descheduler, with the shipped policy, moving that replica.
// Its minutes are the demo's seconds.
var rebalanced = Workload{Name: "live-ingest-ha", What: "live ingest for Zhejiang Telecom viewers, 2 replicas",
	Demand: "zhejiang-telecom", SLO: "8ms", Replicas: 2, SpreadSites: true}

const (
	rebalanceGrace    = 5 * time.Second // the shipped 5m
	rebalanceCooldown = time.Minute     // the shipped 30m, shortened less: the step ends long before
	degradedRTT       = 25 * time.Millisecond
)

// Rebalancing is what the step saw.
type Rebalancing struct {
	Workload      Workload
	Before, After map[string]string        // pod -> node
	RTT           map[string]time.Duration // node -> its site's p90 to the users, before and after
	Degraded      string                   // the site whose RTT rose
	Moved         string                   // the evicted pod
	Note          string                   // the rebalancer's event
	TookAfterBad  time.Duration
	before        map[string]time.Duration // node -> RTT before the site degraded
}

func rebalanceStep(ctx context.Context, kube kubernetes.Interface, edge edgeclient.Interface, kubeconfig string,
	opts Options, dir string, topo *cluster, progress io.Writer) (*Rebalancing, error) {
	const ns = "rebalance-run"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	schedLog, err := os.Create(filepath.Join(dir, "rebalance-scheduler.log"))
	if err != nil {
		return nil, err
	}
	defer schedLog.Close()
	runDir := filepath.Join(dir, "rebalance")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	sched, err := schedulerproc.Start(ctx, schedulerproc.Options{
		Binary: opts.SchedulerBinary, Kubeconfig: kubeconfig, Dir: runDir, Output: schedLog, Config: demoConfig(), Args: opts.SchedulerArgs,
	})
	if err != nil {
		return nil, err
	}
	defer sched.Stop(10 * time.Second)
	stopKubelet := controlplane.StandInKubelet(ctx, kube, ns)
	defer stopKubelet()

	if err := submit(ctx, kube, ns, "edgeplace-scheduler", rebalanced); err != nil {
		return nil, err
	}
	r := &Rebalancing{Workload: rebalanced, RTT: map[string]time.Duration{}}
	if r.Before, err = runningReplicas(ctx, kube, ns, rebalanced, func(map[string]string) bool { return true }); err != nil {
		return nil, err
	}
	before := map[string]time.Duration{}
	for _, node := range r.Before {
		before[node] = rttTo(ctx, edge, topo, node, "zhejiang-telecom")
	}
	stopDescheduler, err := startDescheduler(ctx, opts.DeschedulerBinary, kubeconfig, dir)
	if err != nil {
		return nil, err
	}
	defer stopDescheduler()
	fmt.Fprintf(progress, "    %s placed; edgeplace-descheduler running (grace %s, cooldown %s: the shipped minutes as seconds)\n",
		rebalanced.Name, rebalanceGrace, rebalanceCooldown)

	// The site of the first replica, by name, degrades.
	pods := sortedKeys(r.Before)
	r.Moved = pods[0]
	site := topo.nodeSite[r.Before[r.Moved]]
	r.Degraded = site.ID()
	if err := degrade(ctx, edge, "site-"+site.ID(), "zhejiang-telecom", degradedRTT); err != nil {
		return nil, err
	}
	badAt := time.Now()
	fmt.Fprintf(progress, "    site %s's RTT to zhejiang-telecom rises to %s\n", site.ID(), degradedRTT)
	ev, err := waitEviction(ctx, kube, ns, r.Moved)
	if err != nil {
		return nil, err
	}
	r.Note, r.TookAfterBad = ev.Note, ev.EventTime.Sub(badAt).Round(100*time.Millisecond)
	r.After, err = runningReplicas(ctx, kube, ns, rebalanced, func(pods map[string]string) bool {
		_, stillThere := pods[r.Moved]
		return !stillThere
	})
	if err != nil {
		return nil, err
	}
	for _, node := range r.After {
		r.RTT[node] = rttTo(ctx, edge, topo, node, "zhejiang-telecom")
	}
	r.before = before
	return r, nil
}

// runningReplicas waits until the workload has its replicas running and
// ok accepts them, and returns them (pod -> node).
func runningReplicas(ctx context.Context, kube kubernetes.Interface, ns string, w Workload, ok func(map[string]string) bool) (map[string]string, error) {
	var pods map[string]string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + w.Name})
		if err != nil {
			return false, err
		}
		pods = map[string]string{}
		for _, p := range list.Items {
			if p.Status.Phase == v1.PodRunning && p.DeletionTimestamp == nil {
				pods[p.Name] = p.Spec.NodeName
			}
		}
		return len(pods) == w.Replicas && ok(pods), nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d running replicas of %s (have %v): %w", w.Replicas, w.Name, pods, err)
	}
	return pods, nil
}

func startDescheduler(ctx context.Context, binary, kubeconfig, dir string) (func(), error) {
	policy, err := manifests.DeschedulerPolicyWith(map[string]any{
		"sloGracePeriod": rebalanceGrace.String(), "cooldown": rebalanceCooldown.String(), "gapGracePeriod": "1h",
	})
	if err != nil {
		return nil, err
	}
	policyPath := filepath.Join(dir, "descheduler-policy.yaml")
	if err := os.WriteFile(policyPath, policy, 0o600); err != nil {
		return nil, err
	}
	port, err := controlplane.FreePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "descheduler.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, binary, "--policy-config-file="+policyPath, "--kubeconfig="+kubeconfig,
		"--descheduling-interval=1s", "--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port), "--cert-dir="+dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		log.Close()
	}, nil
}

// degrade raises a site's measured RTT to a landmark, as its probe would
// publish it.
func degrade(ctx context.Context, edge edgeclient.Interface, object, landmark string, rtt time.Duration) error {
	nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, object, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range nn.Status.Landmarks {
		if e := &nn.Status.Landmarks[i]; e.Landmark == landmark {
			e.RTTP50Microseconds, e.RTTP90Microseconds = rtt.Microseconds()*9/10, rtt.Microseconds()
			e.ObservedTime = metav1.Now()
		}
	}
	_, err = edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(ctx, nn, metav1.UpdateOptions{})
	return err
}

// rttTo is the p90 a node's site publishes to a landmark now.
func rttTo(ctx context.Context, edge edgeclient.Interface, topo *cluster, node, landmark string) time.Duration {
	nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, "site-"+topo.nodeSite[node].ID(), metav1.GetOptions{})
	if err != nil {
		return 0
	}
	for _, e := range nn.Status.Landmarks {
		if e.Landmark == landmark {
			return time.Duration(e.RTTP90Microseconds) * time.Microsecond
		}
	}
	return 0
}

func waitEviction(ctx context.Context, kube kubernetes.Interface, ns, pod string) (eventsv1.Event, error) {
	var found eventsv1.Event
	sel := fields.Set{"reason": v1alpha1.RebalanceReason}.AsSelector().String()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := kube.EventsV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return false, err
		}
		i := slices.IndexFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Action == v1alpha1.RebalanceEvicted && e.Regarding.Name == pod
		})
		if i >= 0 {
			found = list.Items[i]
		}
		return i >= 0, nil
	})
	if err != nil {
		return found, fmt.Errorf("waiting for the rebalancer to move %s: %w", pod, err)
	}
	return found, nil
}

// Print writes the step's before and after.
func (r *Rebalancing) Print(w io.Writer) {
	fmt.Fprintf(w, "Rebalancing: %s (SLO %s p90). Site %s's RTT to zhejiang-telecom rose to %s.\n", r.Workload.Name, r.Workload.SLO, r.Degraded, degradedRTT)
	fmt.Fprintln(w, "  before:")
	for _, p := range sortedKeys(r.Before) {
		fmt.Fprintf(w, "    %-32s %-28s %s\n", p, r.Before[p], ms(r.before[r.Before[p]]))
	}
	fmt.Fprintf(w, "  edgeplace-descheduler, %s after the site went bad: %s\n", r.TookAfterBad, wrap(r.Note))
	fmt.Fprintln(w, "  after:")
	for _, p := range sortedKeys(r.After) {
		fmt.Fprintf(w, "    %-32s %-28s %s\n", p, r.After[p], ms(r.RTT[r.After[p]]))
	}
}

func wrap(s string) string { return strings.ReplaceAll(s, "; ", ";\n      ") }
