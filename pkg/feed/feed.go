// Package feed keeps a network map (pkg/netmap) current from the API
// server: its own informers on Nodes, Landmarks, NodeNetworks and
// LatencyProfiles record changes into the map, and one loop publishes them
// as snapshots and, when asked, fills missing entries with estimates.
//
// The scheduler never waits for the feed: until the edgeplace CRDs are
// installed and the informers synced, the map says so through its state.
//
// A Source hands the plugins their map (plugins.Registry): FromAPIServer
// starts one feed for the scheduler; Fixed hands out a map that tests,
// benchmarks and the placement evaluation fill themselves.
package feed

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/estimate"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	edgescheme "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned/scheme"
	edgeinformers "github.com/edgeplace/edgeplace/pkg/generated/informers/externalversions"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

const (
	// flushInterval lets a burst of probe updates land in one snapshot.
	flushInterval = 50 * time.Millisecond
	// discoveryInterval is how often the feed looks again for CRDs that were
	// not installed when it started.
	discoveryInterval = 10 * time.Second
	// estimateInterval is how often missing entries are re-estimated when
	// estimation is on.
	estimateInterval = 10 * time.Second
)

// JSONConfig returns a copy of cfg that speaks JSON: custom resources have
// no protobuf encoding, and schedulers default their clients to protobuf.
func JSONConfig(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.ContentType = "application/json"
	out.AcceptContentTypes = "application/json"
	return out
}

// Start feeds m from the API server until ctx ends and returns at once.
// Nodes are watched from the start; Landmarks, NodeNetworks and
// LatencyProfiles as soon as their CRDs are installed.
func Start(ctx context.Context, m *netmap.Map, cfg *rest.Config) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	edge, err := edgeclient.NewForConfig(JSONConfig(cfg))
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(kube, 0)
	nodes := factory.Core().V1().Nodes().Informer()
	// The map needs a node's name and labels only; the scheduler keeps its
	// own full copy of every node.
	if err := nodes.SetTransform(keepNodeIdentity); err != nil {
		return err
	}
	if _, err := nodes.AddEventHandler(handler(func(n *corev1.Node) { m.SetNode(n.Name, n.Labels) }, m.DeleteNode)); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	go Run(ctx, m, flushInterval)
	go watchEdgeplace(ctx, m, kube, edge, nodes.HasSynced)
	return nil
}

// Run publishes m's recorded changes until ctx ends, at most once per
// interval, and, while estimation is on (netmap.Map.EnableEstimation),
// estimates missing entries every estimateInterval and soon after the map
// first becomes ready or is rebuilt.
func Run(ctx context.Context, m *netmap.Map, interval time.Duration) {
	run(ctx, m, interval, estimate.NewMapEstimator())
}

// estimator fills a snapshot's missing entries (estimate.MapEstimator).
type estimator interface {
	Estimate(ctx context.Context, s *netmap.Snapshot, now time.Time, ttl time.Duration) *netmap.Estimates
}

func run(ctx context.Context, m *netmap.Map, interval time.Duration, estimator estimator) {
	estimateAt := time.Now().Add(time.Second)
	lastBuilt := m.Current()
	// A first estimate of a large map takes seconds (bench: BenchmarkEstimate):
	// it runs beside this loop, so that measurements keep reaching the
	// plugins meanwhile, one run at a time (the estimator keeps state). The
	// next run waits at least twice as long as the last one took, which
	// keeps estimation to a third of a core on the largest maps.
	var estimating chan *netmap.Estimates // nil: no run in progress
	var started time.Time
	defer func() {
		if estimating != nil {
			<-estimating // it gives up soon after ctx ends
		}
	}()
	for {
		var timer *time.Timer
		var due <-chan time.Time
		if estimating == nil {
			timer = time.NewTimer(max(time.Until(estimateAt), 0))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-m.Changed():
			next := m.Flush()
			lostEstimates := next.Estimated().IsZero() && !lastBuilt.Estimated().IsZero()
			if next.State() == netmap.Ready && (lastBuilt.State() != netmap.Ready || lostEstimates) {
				estimateAt = time.Now().Add(time.Second)
			}
			lastBuilt = next
		case <-due:
			if ttl := m.EstimationTTL(); ttl > 0 && m.Current().State() == netmap.Ready {
				estimating, started = make(chan *netmap.Estimates, 1), time.Now()
				go func(s *netmap.Snapshot, out chan<- *netmap.Estimates) {
					out <- estimator.Estimate(ctx, s, time.Now(), ttl)
				}(m.Current(), estimating)
			}
			estimateAt = time.Now().Add(estimateInterval)
		case est := <-estimating:
			estimating = nil
			m.PublishEstimates(est)
			if rest := time.Now().Add(2 * time.Since(started)); rest.After(estimateAt) {
				estimateAt = rest
			}
		}
		if timer != nil {
			timer.Stop()
		}
		pause := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

func watchEdgeplace(ctx context.Context, m *netmap.Map, kube kubernetes.Interface, edge edgeclient.Interface, nodesSynced cache.InformerSynced) {
	logger := klog.FromContext(ctx).WithName("netmap")
	disco := kube.Discovery()
	told := false
	for !CRDsInstalled(disco) {
		if !told {
			logger.Info("edgeplace CRDs are not installed; network-aware plugins step aside until they are", "group", v1alpha1.SchemeGroupVersion.String())
			told = true
		}
		m.SetState(netmap.Unavailable)
		select {
		case <-ctx.Done():
			return
		case <-time.After(discoveryInterval):
		}
	}
	m.SetState(netmap.Syncing)
	factory := edgeinformers.NewSharedInformerFactory(edge, 0)
	landmarks := factory.Edgeplace().V1alpha1().Landmarks().Informer()
	networks := factory.Edgeplace().V1alpha1().NodeNetworks().Informer()
	_, err1 := landmarks.AddEventHandler(handler(func(l *v1alpha1.Landmark) { m.SetLandmarkAt(l.Name, l.Spec.Location) }, m.DeleteLandmark))
	recorder := lazyRecorder(ctx, kube)
	m.OnUpdate(reportSuspects(ctx, recorder))
	_, err2 := networks.AddEventHandler(handler(reportImplausible(ctx, recorder, m.SetNodeNetwork), m.DeleteNodeNetwork))
	if err1 != nil || err2 != nil {
		logger.Error(nil, "cannot watch edgeplace objects", "landmarks", err1, "nodeNetworks", err2)
		return
	}
	synced := []cache.InformerSynced{landmarks.HasSynced, networks.HasSynced, nodesSynced}
	if Served(disco, "latencyprofiles") {
		profiles := factory.Edgeplace().V1alpha1().LatencyProfiles().Informer()
		if _, err := profiles.AddEventHandler(profileHandler(m)); err != nil {
			logger.Error(err, "cannot watch LatencyProfiles")
			return
		}
		synced = append(synced, profiles.HasSynced)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	m.SetState(netmap.Ready)
	logger.Info("network map synced")
}

// reportImplausible wraps the map's NodeNetwork setter: entries the map
// ignores as implausible (possible only in objects the CRD schema did not
// check) are logged and reported as a Warning event on the object, naming
// each entry's field and value, so that the probe's owner can see why a
// node reads as unmeasured.
func reportImplausible(ctx context.Context, recorder func() events.EventRecorder, set func(*v1alpha1.NodeNetwork)) func(*v1alpha1.NodeNetwork) {
	logger := klog.FromContext(ctx).WithName("netmap")
	return func(nn *v1alpha1.NodeNetwork) {
		if bad := netmap.Implausible(nn); len(bad) > 0 {
			logger.Info("ignoring implausible NodeNetwork entries", "nodeNetwork", nn.Name, "entries", bad)
			shown := bad[:min(len(bad), 3)]
			more := ""
			if len(bad) > len(shown) {
				more = fmt.Sprintf("; and %d more", len(bad)-len(shown))
			}
			// An event's note holds at most 1 kB: the first few entries say
			// what is wrong, the log has them all.
			note := fmt.Sprintf("%d entries ignored as implausible: %s%s", len(bad), strings.Join(shown, "; "), more)
			if len(note) > 1000 {
				note = note[:1000]
			}
			recorder().Eventf(nn, nil, corev1.EventTypeWarning, ReasonImplausible, "Read", "%s", note)
		}
		set(nn)
	}
}

// ReasonImplausible is the reason of the event a NodeNetwork gets when
// some of its entries are ignored.
const ReasonImplausible = "ImplausibleMeasurement"

// lazyRecorder returns the network map's event recorder, started with its
// first event (most clusters never have one) and stopped with ctx.
func lazyRecorder(ctx context.Context, kube kubernetes.Interface) func() events.EventRecorder {
	return sync.OnceValue(func() events.EventRecorder {
		broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: kube.EventsV1()})
		broadcaster.StartRecordingToSink(ctx.Done())
		go func() {
			<-ctx.Done()
			broadcaster.Shutdown()
		}()
		return broadcaster.NewRecorder(edgescheme.Scheme, "edgeplace-network-map")
	})
}

// Served says whether the API server serves an edgeplace resource.
func Served(disco discovery.DiscoveryInterface, plural string) bool {
	list, err := disco.ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == plural {
			return true
		}
	}
	return false
}

// CRDsInstalled says whether the API server serves the edgeplace resources
// the map cannot do without.
func CRDsInstalled(disco discovery.DiscoveryInterface) bool {
	return Served(disco, "landmarks") && Served(disco, "nodenetworks")
}

func profileHandler(m *netmap.Map) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { setProfile(m, obj) },
		UpdateFunc: func(_, obj any) { setProfile(m, obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if acc, err := meta.Accessor(obj); err == nil {
				m.DeleteProfile(acc.GetNamespace(), acc.GetName())
			}
		},
	}
}

func setProfile(m *netmap.Map, obj any) {
	if lp, ok := obj.(*v1alpha1.LatencyProfile); ok {
		m.SetProfile(lp)
	}
}

func keepNodeIdentity(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Labels: n.Labels,
	}}, nil
}

// handler adapts typed set/delete callbacks to informer events, including
// deletions seen only as tombstones after a relist.
func handler[T any](set func(T), del func(name string)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if t, ok := obj.(T); ok {
				set(t)
			}
		},
		UpdateFunc: func(_, obj any) {
			if t, ok := obj.(T); ok {
				set(t)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if acc, err := meta.Accessor(obj); err == nil {
				del(acc.GetName())
			}
		},
	}
}
