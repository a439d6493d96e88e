package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/schedulerproc"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
)

// place starts the scheduler binary with a configuration, submits the
// workloads in their own namespace, waits until every pod is bound or
// reported unschedulable, reads the bindings back and cleans up.
func place(ctx context.Context, kube kubernetes.Interface, kubeconfig string, opts Options, dir, profile, ns, schedulerName string, config []byte, progress io.Writer) (*Outcome, error) {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, profile+"-scheduler.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	runDir := filepath.Join(dir, profile)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	sched, err := schedulerproc.Start(ctx, schedulerproc.Options{
		Binary: opts.SchedulerBinary, Kubeconfig: kubeconfig, Dir: runDir, Output: log, Config: config, Args: opts.SchedulerArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s (log: %s): %w", opts.SchedulerBinary, logPath, err)
	}
	defer sched.Stop(10 * time.Second)
	fmt.Fprintf(progress, "    scheduler process %d (%s profile)\n", sched.Pid(), profile)

	for _, w := range opts.Workloads {
		if err := submit(ctx, kube, ns, schedulerName, w); err != nil {
			return nil, fmt.Errorf("workload %s: %w", w.Name, err)
		}
	}
	o := &Outcome{Profile: profile, Nodes: map[string][]string{}, Pending: map[string]string{}}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, w := range opts.Workloads {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + w.Name})
			if err != nil {
				return false, err
			}
			if len(pods.Items) < max(1, w.Replicas) {
				return false, nil
			}
			var nodes []string
			pending := ""
			for _, p := range pods.Items {
				switch {
				case p.Spec.NodeName != "":
					nodes = append(nodes, p.Spec.NodeName)
				case unschedulable(&p) != "" && !strings.Contains(unschedulable(&p), v1alpha1.ReasonLoading):
					// Held while the map loads is not a verdict: the
					// scheduler retries once it is ready.
					pending = unschedulable(&p)
				default:
					return false, nil
				}
			}
			o.Nodes[w.Name], o.Pending[w.Name] = nodes, pending
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the %s profile to place every pod (scheduler log: %s): %w", profile, logPath, err)
	}
	fmt.Fprintf(progress, "    every pod bound or reported unschedulable\n")
	return o, cleanup(ctx, kube, ns)
}

func submit(ctx context.Context, kube kubernetes.Interface, ns, schedulerName string, w Workload) error {
	annotations := map[string]string{v1alpha1.DemandAnnotation: w.Demand}
	if w.SLO != "" {
		annotations[v1alpha1.MaxRTTAnnotation] = w.SLO
	}
	requests := v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("512Mi")}
	if w.EgressMbps > 0 {
		requests[v1alpha1.EgressResource] = resource.MustParse(strconv.FormatInt(w.EgressMbps, 10))
	}
	template := v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": w.Name}, Annotations: annotations},
		Spec: v1.PodSpec{
			SchedulerName: schedulerName,
			Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: v1.ResourceRequirements{Requests: requests, Limits: limitsOf(requests)}}},
		},
	}
	if w.SpreadSites {
		template.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: template.Labels},
				TopologyKey:   v1alpha1.SiteLabel,
			}},
		}}
	}
	if w.Replicas > 1 {
		replicas := int32(w.Replicas)
		_, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: template.Labels},
				Template: template,
			},
		}, metav1.CreateOptions{})
		return err
	}
	_, err := kube.CoreV1().Pods(ns).Create(ctx, &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: w.Name, Labels: template.Labels, Annotations: template.Annotations,
	}, Spec: template.Spec}, metav1.CreateOptions{})
	return err
}

// limitsOf keeps extended resources, which must have limit = request.
func limitsOf(requests v1.ResourceList) v1.ResourceList {
	if q, ok := requests[v1alpha1.EgressResource]; ok {
		return v1.ResourceList{v1alpha1.EgressResource: q}
	}
	return nil
}

func unschedulable(p *v1.Pod) string {
	if _, c := podutil.GetPodCondition(&p.Status, v1.PodScheduled); c != nil && c.Status == v1.ConditionFalse {
		return c.Message
	}
	return ""
}

// cleanup removes a run's workloads so that the next run starts from the
// same empty nodes. Deployments are scaled to zero first, so that their
// ReplicaSets stop replacing pods; no kubelet confirms deletions here, so
// pods then go with a zero grace period.
func cleanup(ctx context.Context, kube kubernetes.Interface, ns string) error {
	zero32, zero := int32(0), int64(0)
	deployments, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, d := range deployments.Items {
		d.Spec.Replicas = &zero32
		if _, err := kube.AppsV1().Deployments(ns).Update(ctx, &d, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		sets, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, rs := range sets.Items {
			if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 0 {
				return false, nil
			}
		}
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			_ = kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("removing the workloads of namespace %s: %w", ns, err)
	}
	if err := kube.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return err
	}
	return kube.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
}
