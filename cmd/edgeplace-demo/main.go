// Command edgeplace-demo runs edgeplace end to end on one machine: an
// embedded etcd and kube-apiserver, an ENS-style topology of edge sites with
// synthesised RTT (pkg/synthetic), the real edgeplace-scheduler binary with
// the shipped configuration, and a few workloads. It prints where each pod
// went and the RTT it gets to the users it serves.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

type workload struct {
	name, demand, slo, what string
}

var workloads = []workload{
	{"live-ingest", "zhejiang-telecom", "8ms", "live-stream ingest for Zhejiang Telecom viewers"},
	{"game-server", "sichuan-cmcc:70,chongqing-cmcc:30", "12ms", "cloud gaming for China Mobile players in Sichuan and Chongqing"},
	{"cdn-cache", "guangdong-unicom:60,guangxi-unicom:25,hainan-unicom:15", "", "CDN cache for Unicom users in the south"},
	{"iot-gateway", "heilongjiang-telecom:50,jilin-telecom:50", "", "IoT gateway for the north-east"},
	{"ar-assist", "xinjiang-telecom", "1ms", "AR assistance with an SLO no site can meet"},
}

func main() {
	scheduler := flag.String("scheduler", "bin/edgeplace-scheduler", "path of the edgeplace-scheduler binary")
	nodesPerSite := flag.Int("nodes-per-site", 2, "nodes in each edge site")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *scheduler, *nodesPerSite); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func run(ctx context.Context, schedulerBinary string, nodesPerSite int) error {
	dir, err := os.MkdirTemp("", "edgeplace-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logFile, err := os.Create(filepath.Join(dir, "controlplane.log"))
	if err != nil {
		return err
	}

	step("starting etcd and kube-apiserver in this process")
	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{Log: logFile})
	if err != nil {
		return err
	}
	defer cp.Stop()
	fmt.Printf("    API server ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	edge := edgeclient.NewForConfigOrDie(cp.Config())

	sites := synthetic.Sites()
	step("creating %d landmarks, %d edge sites x %d nodes, and their measurements", len(sites), len(sites), nodesPerSite)
	if err := createTopology(ctx, kube, edge, sites, nodesPerSite); err != nil {
		return err
	}
	fmt.Printf("    RTT model: %gms access + great-circle distance x %.1f at %.0f km/ms, +%s across carriers\n",
		float64(synthetic.AccessRTT)/1e6, synthetic.RouteFactor, synthetic.FibreKmPerMs, synthetic.CrossCarrierPenalty)

	step("starting %s with manifests/scheduler/config.yaml", schedulerBinary)
	schedLog, err := os.Create(filepath.Join(dir, "scheduler.log"))
	if err != nil {
		return err
	}
	sched, err := schedulerproc.Start(ctx, schedulerproc.Options{
		Binary: schedulerBinary, Kubeconfig: cp.KubeconfigPath(), Dir: dir, Output: schedLog,
	})
	if err != nil {
		return err
	}
	defer sched.Stop(10 * time.Second)

	step("submitting %d workloads", len(workloads))
	for _, w := range workloads {
		if err := submit(ctx, kube, w); err != nil {
			return err
		}
	}
	return report(ctx, kube, edge)
}

func nodeName(s synthetic.Site, i int) string { return fmt.Sprintf("edge-%s-%d", s.ID(), i) }

func createTopology(ctx context.Context, kube kubernetes.Interface, edge edgeclient.Interface, sites []synthetic.Site, perSite int) error {
	for _, s := range sites {
		if _, err := edge.EdgeplaceV1alpha1().Landmarks().Create(ctx, synthetic.Landmark(s), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("16"),
		v1.ResourceMemory: resource.MustParse("64Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	now := time.Now()
	for _, s := range sites {
		measurements := synthetic.Measurements(s, sites, now)
		for i := range perSite {
			node := &v1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: nodeName(s, i), Labels: map[string]string{
					v1alpha1.SiteLabel:              s.ID(),
					"topology.kubernetes.io/region": s.ID(),
				}},
			}
			created, err := kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			created.Status = v1.NodeStatus{Capacity: capacity, Allocatable: capacity,
				Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}
			if created, err = kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				return err
			}
			nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, &v1alpha1.NodeNetwork{
				ObjectMeta: metav1.ObjectMeta{Name: created.Name, OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: created.Name, UID: created.UID,
				}}},
			}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			nn.Status.Landmarks = measurements
			if _, err := edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(ctx, nn, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	}
	return nil
}

func submit(ctx context.Context, kube kubernetes.Interface, w workload) error {
	annotations := map[string]string{intent.DemandAnnotation: w.demand}
	if w.slo != "" {
		annotations[intent.MaxRTTAnnotation] = w.slo
	}
	_, err := kube.CoreV1().Pods("default").Create(ctx, &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Annotations: annotations},
		Spec: v1.PodSpec{
			SchedulerName: "edgeplace-scheduler",
			Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m")},
			}}},
		},
	}, metav1.CreateOptions{})
	fmt.Printf("    %-12s %s\n", w.name, w.what)
	return err
}

// report waits until every pod is bound or reported unschedulable, then
// prints each placement with the measured RTT to each demand landmark.
func report(ctx context.Context, kube kubernetes.Interface, edge edgeclient.Interface) error {
	step("waiting for the scheduler")
	pods := map[string]*v1.Pod{}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, w := range workloads {
			p, err := kube.CoreV1().Pods("default").Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			pods[w.name] = p
			if p.Spec.NodeName == "" && unschedulable(p) == "" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}

	step("placements")
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tSLO (p90)\tNODE\tRTT p90 TO EACH DEMAND LANDMARK")
	for _, w := range workloads {
		p := pods[w.name]
		slo := w.slo
		if slo == "" {
			slo = "-"
		}
		if p.Spec.NodeName == "" {
			fmt.Fprintf(tw, "%s\t%s\tPending\t%s\n", w.name, slo, unschedulable(p))
			continue
		}
		nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		demands, _ := intent.ParseDemand(w.demand, intent.Options{DefaultWeight: 1, MaxLandmarks: 64})
		var parts []string
		for _, d := range demands {
			for _, m := range nn.Status.Landmarks {
				if m.Landmark == d.Landmark {
					ms := float64(m.RTTP90Microseconds) / 1000
					parts = append(parts, fmt.Sprintf("%s %.1fms", d.Landmark, ms))
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.name, slo, p.Spec.NodeName, strings.Join(parts, ", "))
	}
	return tw.Flush()
}

func unschedulable(p *v1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}
