package rebalance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// testCluster is a network map of sites of two nodes each, measured to 64
// landmarks, and ReplicaSets of 10 running replicas spread over the
// nodes, each workload with its own demand of two landmarks and an SLO.
func testCluster(tb testing.TB, nodes, pods int) (*cluster, []*v1.Node) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 0))
	const landmarks = 64
	m := netmap.New()
	for l := range landmarks {
		m.SetLandmarkAt(fmt.Sprintf("lm-%d", l), v1alpha1.Location{})
	}
	var nodeObjs []*v1.Node
	for s := range nodes / 2 {
		site := fmt.Sprintf("site-%d", s)
		nn := &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: site},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site},
		}
		for l := range landmarks {
			us := int64(5000 + rng.IntN(195000))
			nn.Status.Landmarks = append(nn.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: fmt.Sprintf("lm-%d", l), RTTP50Microseconds: us, RTTP90Microseconds: us * 11 / 10,
				Samples: 60, ObservedTime: metav1.Now(),
			})
		}
		m.SetNodeNetwork(nn)
		for k := range 2 {
			name := fmt.Sprintf("%s-%d", site, k)
			m.SetNode(name, map[string]string{v1alpha1.SiteLabel: site})
			nodeObjs = append(nodeObjs, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	}
	m.SetState(netmap.Ready)
	m.Flush()

	podIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{ownerIndex: indexByOwner})
	rsIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for w := range pods / 10 {
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("w%d", w), UID: types.UID(fmt.Sprintf("rs-%d", w))},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](10)},
		}
		require.NoError(tb, rsIndex.Add(rs))
		two := rng.Perm(landmarks)[:2]
		demand := fmt.Sprintf("lm-%d,lm-%d", two[0], two[1])
		for r := range 10 {
			p := &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: "ns", Name: fmt.Sprintf("w%d-%d", w, r), UID: types.UID(fmt.Sprintf("w%d-%d", w, r)),
					Annotations:     map[string]string{v1alpha1.DemandAnnotation: demand, v1alpha1.MaxRTTAnnotation: "25ms"},
					OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}},
				},
				Spec: v1.PodSpec{SchedulerName: DefaultSchedulerName, NodeName: nodeObjs[rng.IntN(len(nodeObjs))].Name},
				Status: v1.PodStatus{Phase: v1.PodRunning,
					Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}},
			}
			require.NoError(tb, podIndex.Add(p))
		}
	}
	return &cluster{
		netmap:       m,
		pods:         corelisters.NewPodLister(podIndex),
		byOwner:      podIndex,
		replicaSets:  appslisters.NewReplicaSetLister(rsIndex),
		statefulSets: appslisters.NewStatefulSetLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})),
		synced:       func() bool { return true },
		events:       events.NewFakeRecorder(1000),
		eventsAPI:    fake.NewClientset().EventsV1(),
	}, nodeObjs
}

// noHandle is a descheduler handle for passes that evict nothing.
type noHandle struct{ frameworktypes.Handle }

func newTestPlugin(tb testing.TB, c *cluster) *Rebalance {
	return newTestPluginWith(tb, c, &EdgeplaceRebalanceArgs{})
}

func newTestPluginWith(tb testing.TB, c *cluster, args *EdgeplaceRebalanceArgs) *Rebalance {
	tb.Helper()
	env := &Env{}
	env.once.Do(func() { env.c = c })
	pl, err := New(context.Background(), args, noHandle{}, env)
	require.NoError(tb, err)
	return pl.(*Rebalance)
}

// BenchmarkPass is one pass of the rebalancer over every pod, none of
// them due to move (their grace periods run): the cost every pass pays. It
// must grow with the pods, not with pods x nodes: ns/pod stays flat from
// 1,000 pods on 500 nodes to 10,000 on 5,000.
func BenchmarkPass(b *testing.B) {
	for _, size := range []struct{ nodes, pods int }{{500, 1000}, {5000, 10000}, {10000, 20000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", size.nodes, size.pods), func(b *testing.B) {
			if testing.Short() && size.pods > 1000 {
				b.Skip("-short: the smallest size only")
			}
			c, nodes := testCluster(b, size.nodes, size.pods)
			pl := newTestPlugin(b, c)
			ctx := context.Background()
			pl.Deschedule(ctx, nodes) // the first pass starts the grace periods
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				pl.Deschedule(ctx, nodes)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.pods), "ns/pod")
		})
	}
}

// TestPassJudgesEveryPod: a pass over the benchmark's cluster judges every
// pod, finds some over their SLO, and moves none before the grace period.
func TestPassJudgesEveryPod(t *testing.T) {
	c, nodes := testCluster(t, 200, 400)
	pl := newTestPlugin(t, c)
	now := time.Now()
	pl.now = func() time.Time { return now }
	require.Nil(t, pl.Deschedule(context.Background(), nodes))
	p := newPass(pl, c.netmap.Current(), nodes, now)
	for _, pod := range c.runningPods(DefaultSchedulerName) {
		p.judge(context.Background(), pod)
	}
	require.Equal(t, 400, p.judged, "every pod judged")
	require.Positive(t, p.alone, "some replicas serve no one: judged on the whole demand")
	require.Positive(t, p.bad["slo"], "the nearest of 10 random sites misses 25ms often")
	require.Zero(t, p.evicted, "none before its grace period")
	select {
	case e := <-c.events.(*events.FakeRecorder).Events:
		require.NotContains(t, e, "Evicted", "no eviction event")
	default:
	}
}

// TestEvictionLimit: at most perMinute evictions in any 60 s.
func TestEvictionLimit(t *testing.T) {
	l := &evictionLimit{perMinute: 2}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, l.allows(now))
	l.took(now)
	require.True(t, l.allows(now.Add(time.Second)))
	l.took(now.Add(time.Second))
	require.False(t, l.allows(now.Add(59*time.Second)), "two in the last minute")
	require.True(t, l.allows(now.Add(60*time.Second)), "the first has aged out")
}

// BenchmarkHistoryMemory is what the history holds once it covers its
// whole window (1h of passes a minute apart, the shipped defaults): the
// heap it keeps, per pod judged and per series (row x landmark x
// percentile). One op is the window's 61 passes; the figures are of the
// last. The grace periods outlast the window, so that nothing moves.
func BenchmarkHistoryMemory(b *testing.B) {
	for _, size := range []struct{ nodes, pods int }{{500, 1000}, {5000, 10000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", size.nodes, size.pods), func(b *testing.B) {
			if testing.Short() && size.pods > 1000 {
				b.Skip("-short: the smallest size only")
			}
			c, nodes := testCluster(b, size.nodes, size.pods)
			ctx := klog.NewContext(context.Background(), logr.Discard())
			var held uint64
			var series int
			for b.Loop() {
				// The map is not rewritten between passes: its measurements
				// stay fresh for the window.
				long := metav1.Duration{Duration: 2 * time.Hour}
				pl := newTestPluginWith(b, c, &EdgeplaceRebalanceArgs{SLOGracePeriod: long, GapGracePeriod: long, MeasurementTTL: long})
				at := time.Now()
				pl.now = func() time.Time { return at }
				passes := int(pl.args.HistoryWindow.Duration/time.Minute) + 1
				for range passes {
					pl.Deschedule(ctx, nodes)
					at = at.Add(time.Minute)
				}
				b.StopTimer()
				series = pl.history.Series()
				before := heapInUse()
				pl.history = nil
				held = before - min(before, heapInUse())
				runtime.KeepAlive(pl) // only the history is dropped
				b.StartTimer()
			}
			b.ReportMetric(float64(held)/(1<<20), "MiB-held")
			b.ReportMetric(float64(held)/float64(size.pods), "B/pod")
			b.ReportMetric(float64(held)/float64(max(series, 1)), "B/series")
			b.ReportMetric(float64(series), "series")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
