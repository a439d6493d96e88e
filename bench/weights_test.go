package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/kubernetes/pkg/scheduler"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/profile"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

var weightsSeed = flag.Uint64("weights-seed", 5, "BenchmarkWeights' random seed for loads and pods")

// BenchmarkWeights measures how NetworkLatency's weight in the shipped
// profile trades latency against the stock plugins' resource balancing. One
// op is one scheduling decision, through the real scheduler, for a pod
// serving two random landmarks, on 1,000 nodes loaded 0-80% at random. It
// reports how often the chosen node is within 1 ms of the lowest
// demand-weighted RTT on offer (within1ms-%), the mean excess RTT over that
// best (regret-us), and the chosen nodes' mean CPU load (load-%): lower load
// means the stock plugins still spread pods among near-equal nodes.
//
// -weights-seed draws other loads and pods, to check a choice made on the
// default draws on ones it was not made on.
func BenchmarkWeights(b *testing.B) {
	c := newEdgeCluster(clusterOptions{nodes: 1000, landmarks: 64})
	rng := rand.New(rand.NewPCG(*weightsSeed, *weightsSeed))
	placed, load := loadNodes(c, rng, 80)
	view := c.netmap.Current().View(timeNow(), fiveMinutes)
	for _, weight := range []int32{1, 2, 5, 10, 20} {
		b.Run(fmt.Sprintf("networklatency-weight=%d", weight), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sched, prof := schedulerWithWeight(ctx, b, c, placed, weight)
			var within, decisions int
			var regret, chosenLoad float64
			i := 0
			for b.Loop() {
				pod := randomDemandPod(c, rng, fmt.Sprintf("w-%d", i))
				i++
				res := schedule(ctx, b, sched, prof, pod)
				b.StopTimer()
				best, got := bestAndChosen(view, c, pod, res.SuggestedHost)
				decisions++
				if got-best <= 1000 {
					within++
				}
				regret += float64(got - best)
				chosenLoad += float64(load[res.SuggestedHost]) / 320
				b.StartTimer()
			}
			b.ReportMetric(100*float64(within)/float64(decisions), "within1ms-%")
			b.ReportMetric(regret/float64(decisions), "regret-us")
			b.ReportMetric(chosenLoad/float64(decisions), "load-%")
		})
	}
}

// loadNodes places on every node a pod using 0 to maxPercent of its 32
// CPUs, at random; it returns the pods and each node's load in millicores.
func loadNodes(c *edgeCluster, rng *rand.Rand, maxPercent int) ([]*v1.Pod, map[string]int64) {
	var placed []*v1.Pod
	load := map[string]int64{}
	for _, n := range c.nodes {
		milli := int64(rng.IntN(maxPercent+1)) * 32000 / 100
		load[n.Name] = milli
		if milli == 0 {
			continue
		}
		placed = append(placed, &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "load-" + n.Name, Namespace: "default", UID: k8stypes.UID("load-" + n.Name)},
			Spec: v1.PodSpec{NodeName: n.Name, Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI)},
			}}}},
		})
	}
	return placed, load
}

// randomDemandPod is the benchmark pod serving two random landmarks (60/40),
// or one when both draws agree.
func randomDemandPod(c *edgeCluster, rng *rand.Rand, name string) *v1.Pod {
	a, z := rng.IntN(len(c.landmarks)), rng.IntN(len(c.landmarks))
	pod := c.podVariant(name, "", 0)
	pod.Annotations = map[string]string{v1alpha1.DemandAnnotation: fmt.Sprintf("%s:60,%s:40", c.landmarks[a], c.landmarks[z])}
	if a == z {
		pod.Annotations[v1alpha1.DemandAnnotation] = c.landmarks[a]
	}
	return pod
}

// schedule runs one scheduling decision without binding.
func schedule(ctx context.Context, b *testing.B, sched *scheduler.Scheduler, prof framework.Framework, pod *v1.Pod) scheduler.ScheduleResult {
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		b.Fatal(err)
	}
	res, err := sched.SchedulePod(ctx, prof, framework.NewCycleState(), &framework.QueuedPodInfo{PodInfo: pi})
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// bestAndChosen returns the lowest demand-weighted RTT among all nodes and
// the chosen node's, in microseconds (measured values only).
func bestAndChosen(view netmap.View, c *edgeCluster, pod *v1.Pod, chosen string) (int64, int64) {
	in, _ := intent.FromPod(pod, intent.Options{DefaultWeight: 1, MaxLandmarks: 64})
	weighted := func(node string) (int64, bool) {
		row, ok := view.Row(node)
		if !ok {
			return 0, false
		}
		var sum, total int64
		for _, d := range in.Demand {
			lm, _ := view.Landmark(d.Landmark)
			rtt, fresh := view.RTT(row, lm, netmap.P90)
			if !fresh {
				return 0, false
			}
			sum += int64(rtt) * d.Weight
			total += d.Weight
		}
		return sum / total, true
	}
	best := int64(-1)
	for _, n := range c.nodes {
		if v, ok := weighted(n.Name); ok && (best < 0 || v < best) {
			best = v
		}
	}
	got, ok := weighted(chosen)
	if !ok {
		got = best + 1_000_000 // an unmeasured node: count as far off
	}
	return best, got
}

// schedulerWithWeight is the shipped profile with NetworkLatency's weight
// replaced, over a snapshot of the loaded cluster.
func schedulerWithWeight(ctx context.Context, b *testing.B, c *edgeCluster, pods []*v1.Pod, weight int32) (*scheduler.Scheduler, framework.Framework) {
	return shippedScheduler(ctx, b, c, pods, func(p *schedconfig.KubeSchedulerProfile) {
		for i, pl := range p.Plugins.MultiPoint.Enabled {
			if pl.Name == networklatency.Name {
				p.Plugins.MultiPoint.Enabled[i].Weight = weight
			}
		}
	})
}

// shippedScheduler is the real scheduler with the shipped profile, changed
// by edit, over a snapshot of the cluster with pods placed. Nothing is
// started: SchedulePod reads the snapshot.
func shippedScheduler(ctx context.Context, b *testing.B, c *edgeCluster, pods []*v1.Pod, edit func(*schedconfig.KubeSchedulerProfile)) (*scheduler.Scheduler, framework.Framework) {
	obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(manifests.SchedulerConfig(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := obj.(*schedconfig.KubeSchedulerConfiguration)
	if edit != nil {
		edit(&cfg.Profiles[0])
	}
	client := fake.NewClientset()
	sched, err := scheduler.New(ctx, client, informers.NewSharedInformerFactory(client, 0), nil,
		profile.NewRecorderFactory(events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})),
		scheduler.WithProfiles(cfg.Profiles...),
		scheduler.WithPercentageOfNodesToScore(cfg.PercentageOfNodesToScore),
		scheduler.WithFrameworkOutOfTreeRegistry(c.registry()),
		scheduler.WithNodeInfoSnapshot(internalcache.NewSnapshot(pods, c.nodes)),
	)
	if err != nil {
		b.Fatal(err)
	}
	return sched, sched.Profiles[cfg.Profiles[0].SchedulerName]
}
