package rebalance

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/coverage"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// Env is what the edgeplace-descheduler command hands the plugin: how to
// reach the API server, and whether the descheduler runs dry.
type Env struct {
	// Config is the descheduler's own client configuration.
	Config func() (*rest.Config, error)
	// DryRun is the descheduler's --dry-run: evictions go to its
	// in-memory copy of the cluster, and the plugin's events say "would".
	DryRun bool
	// Maps hands out the network map (feed.FromAPIServer()).
	Maps feed.Source

	once sync.Once
	c    *cluster
	err  error
}

// cluster is the plugin's own view of the API server: the network map, and
// pods, ReplicaSets and StatefulSets from the real API server. In a dry run
// the descheduler builds its plugins twice and hands them a copy of the
// cluster; this view is made once and is the real one, so that a workload's
// replicas are read as they are.
type cluster struct {
	netmap       *netmap.Map
	pods         corelisters.PodLister
	byOwner      cache.Indexer
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
	synced       func() bool
	events       events.EventRecorder
	eventsAPI    eventsv1client.EventsV1Interface // where earlier moves are read (moves.go)
	podsAPI      corev1client.PodsGetter          // where the expected node is written (expectReplacement)
}

const ownerIndex = "edgeplace.io/owner"

func (env *Env) cluster(ctx context.Context) (*cluster, error) {
	env.once.Do(func() { env.c, env.err = env.start(ctx) })
	return env.c, env.err
}

func (env *Env) start(ctx context.Context) (*cluster, error) {
	if env.Config == nil || env.Maps == nil {
		return nil, errors.New("no client configuration or network map source")
	}
	cfg, err := env.Config()
	if err != nil {
		return nil, err
	}
	m, err := env.Maps.Map(ctx, cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(kube, 0)
	pods := factory.Core().V1().Pods()
	if err := pods.Informer().AddIndexers(cache.Indexers{ownerIndex: indexByOwner}); err != nil {
		return nil, err
	}
	rs := factory.Apps().V1().ReplicaSets()
	ss := factory.Apps().V1().StatefulSets()
	informersSynced := []cache.InformerSynced{pods.Informer().HasSynced, rs.Informer().HasSynced, ss.Informer().HasSynced}
	factory.Start(ctx.Done())

	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: kube.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return nil, err
	}
	return &cluster{
		netmap:       m,
		pods:         pods.Lister(),
		byOwner:      pods.Informer().GetIndexer(),
		replicaSets:  rs.Lister(),
		statefulSets: ss.Lister(),
		synced: func() bool {
			for _, s := range informersSynced {
				if !s() {
					return false
				}
			}
			return true
		},
		events:    broadcaster.NewRecorder(scheme.Scheme, "edgeplace-descheduler"),
		eventsAPI: kube.EventsV1(),
		podsAPI:   kube.CoreV1(),
	}, nil
}

func indexByOwner(obj any) ([]string, error) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := coverage.ControllerOf(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// runningPods are the pods a pass judges: bound by the scheduler, running,
// not being deleted, with a network intent; in a fixed order.
func (c *cluster) runningPods(scheduler string) []*v1.Pod {
	all, _ := c.pods.List(everything)
	var out []*v1.Pod
	for _, p := range all {
		if p.Spec.SchedulerName == scheduler && p.Spec.NodeName != "" && p.DeletionTimestamp == nil &&
			p.Status.Phase == v1.PodRunning && hasIntent(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *v1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out
}

func hasIntent(p *v1.Pod) bool {
	for _, a := range []string{v1alpha1.DemandAnnotation, v1alpha1.ProfileAnnotation, v1alpha1.DependsOnAnnotation} {
		if _, ok := p.Annotations[a]; ok {
			return true
		}
	}
	return false
}

// siblings are the live pods of a workload, the pod itself included:
// finished pods (Succeeded, Failed) neither serve users nor count as
// unready replicas.
func (c *cluster) siblings(owner types.UID) []*v1.Pod {
	objs, _ := c.byOwner.ByIndex(ownerIndex, string(owner))
	out := make([]*v1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*v1.Pod); ok && p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// replacementHold is how long, past the pod's grace period, the node the
// rebalancer expects a pod's replacement on holds: a ReplicaSet creates the
// replacement as soon as the pod is evicted, a StatefulSet once it is gone,
// and the scheduler takes the expectation for its first attempt only.
const replacementHold = 2 * time.Minute

// expectReplacement writes on the pod, before it is evicted, the node its
// replacement is expected on, for the scheduler (v1alpha1.
// ReplacementNodeAnnotation); with node "", it removes them again (an
// eviction that was refused). The patch names the pod's UID, so that it
// never lands on a new pod of the same name.
func (c *cluster) expectReplacement(ctx context.Context, pod *v1.Pod, node string, now time.Time) error {
	annotations := map[string]any{v1alpha1.ReplacementNodeAnnotation: nil, v1alpha1.ReplacementDeadlineAnnotation: nil}
	if node != "" {
		hold := replacementHold
		if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
			hold += time.Duration(*g) * time.Second
		}
		annotations[v1alpha1.ReplacementNodeAnnotation] = node
		annotations[v1alpha1.ReplacementDeadlineAnnotation] = now.Add(hold).UTC().Format(time.RFC3339)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID, "annotations": annotations}})
	if err != nil {
		return err
	}
	_, err = c.podsAPI.Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
