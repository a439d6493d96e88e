package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// BenchmarkMapUpdate applies one NodeNetwork update to a full map and
// publishes the new snapshot: what a probe's heartbeat costs the scheduler.
func BenchmarkMapUpdate(b *testing.B) {
	for _, n := range clusterSizes() {
		c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64})
		b.Run(fmt.Sprintf("nodes=%d/landmarks=64", n), func(b *testing.B) {
			updates := make([]*v1alpha1.NodeNetwork, 64)
			for i := range updates {
				nn := c.objects[(i*7919)%len(c.objects)].DeepCopy()
				for j := range nn.Status.Landmarks {
					nn.Status.Landmarks[j].RTTP50Microseconds += int64(i * 100)
					nn.Status.Landmarks[j].RTTP90Microseconds += int64(i * 100)
					nn.Status.Landmarks[j].ObservedTime = metav1.Now()
				}
				updates[i] = nn
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.netmap.SetNodeNetwork(updates[i%len(updates)])
				c.netmap.Flush()
				i++
			}
		})
	}
}

// BenchmarkMapBuild builds a map from scratch, as a scheduler does when it
// starts, and reports the map's own memory per node x landmark (the
// NodeNetwork objects, which the informer holds anyway, are not counted).
func BenchmarkMapBuild(b *testing.B) {
	for _, n := range clusterSizes() {
		for _, perSite := range []bool{false, true} {
			c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64, sites: max(186, n/20), perSite: perSite, noMap: true})
			name := fmt.Sprintf("nodes=%d/landmarks=64/objects=per-node", n)
			if perSite {
				name = fmt.Sprintf("nodes=%d/landmarks=64/objects=per-site/sites=%d", n, max(186, n/20))
			}
			b.Run(name, func(b *testing.B) {
				var bytes uint64
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					before := heapInUse()
					b.StartTimer()
					m := netmap.New()
					c.fill(m)
					m.Flush()
					b.StopTimer()
					bytes = heapInUse() - before
					runtime.KeepAlive(m)
					b.StartTimer()
				}
				b.ReportMetric(float64(bytes)/float64(n*len(c.landmarks)), "B/node-landmark")
				b.ReportMetric(float64(bytes)/(1<<20), "MiB")
			})
		}
	}
}

// BenchmarkObjects compares publishing one NodeNetwork per node with one
// per site: how many objects, their JSON size (what the API server stores
// and sends on a list) and the heap their decoded copies take in an
// informer. One op decodes them all.
func BenchmarkObjects(b *testing.B) {
	n, sites := 10000, 500
	if testing.Short() {
		n, sites = 1000, 50
	}
	if *large {
		n, sites = 100000, 5000
	}
	for _, perSite := range []bool{false, true} {
		c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64, sites: sites, perSite: perSite, noMap: true})
		scope := "per-node"
		if perSite {
			scope = "per-site"
		}
		encoded := make([][]byte, len(c.objects))
		var size int
		for i, nn := range c.objects {
			data, err := json.Marshal(nn)
			if err != nil {
				b.Fatal(err)
			}
			encoded[i] = data
			size += len(data)
		}
		c = nil
		b.Run(fmt.Sprintf("nodes=%d/sites=%d/landmarks=64/objects=%s", n, sites, scope), func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				b.StartTimer()
				decoded := make([]*v1alpha1.NodeNetwork, len(encoded))
				for i, data := range encoded {
					decoded[i] = &v1alpha1.NodeNetwork{}
					if err := json.Unmarshal(data, decoded[i]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				heap = heapInUse() - before
				runtime.KeepAlive(decoded)
				b.StartTimer()
			}
			b.ReportMetric(float64(len(encoded)), "objects")
			b.ReportMetric(float64(size)/(1<<20), "MiB-json")
			b.ReportMetric(float64(heap)/(1<<20), "MiB-informer")
		})
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkEstimate fills a full map's stale entries (5% of the nodes) the
// way the map's feed does, off the hot path: "first" fits a new coordinate
// space, as after a scheduler starts; "next" is every later run, which
// refines the space it kept. BenchmarkMapBuild is its yardstick.
func BenchmarkEstimate(b *testing.B) {
	for _, n := range clusterSizes() {
		c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64, sites: max(186, n/20)})
		snap := c.netmap.Current()
		now := time.Now()
		b.Run(fmt.Sprintf("nodes=%d/landmarks=64/run=first", n), func(b *testing.B) {
			for b.Loop() {
				estimate.NewMapEstimator().Estimate(context.Background(), snap, now, time.Hour)
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/landmarks=64/run=next", n), func(b *testing.B) {
			e := estimate.NewMapEstimator()
			e.Estimate(context.Background(), snap, now, time.Hour)
			for b.Loop() {
				e.Estimate(context.Background(), snap, now, time.Hour)
			}
		})
	}
}
