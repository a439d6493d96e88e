package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// BenchmarkPruning asks whether evaluating a pod on NetworkLatency's
// candidates only changes where it goes. One op schedules the same pod,
// through the real scheduler with the shipped profile, on the same loaded
// snapshot twice: with the shipped candidates (minCandidates 100) and with
// every node evaluated (minCandidates 0). Nodes are loaded 0-95% CPU at
// random and one in ten carries a taint the pods do not tolerate; pods serve
// two random landmarks and ask for 1 CPU. agree-% counts the decisions where
// both chose the same node, or nodes within 1 ms of each other's
// demand-weighted RTT; evaluated-pruned and evaluated-full are the nodes
// each run evaluated. One op is decisionsPerOp decisions, so that even one
// op at 10k nodes counts enough of them.
const decisionsPerOp = 100

func BenchmarkPruning(b *testing.B) {
	sizes := []int{1000, 10000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		c := newEdgeCluster(clusterOptions{nodes: n, landmarks: 64})
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		for i, node := range c.nodes {
			if i%10 == 3 {
				node.Spec.Taints = append(node.Spec.Taints, v1.Taint{Key: "edgeplace.io/maintenance", Effect: v1.TaintEffectNoSchedule})
			}
		}
		placed, _ := loadNodes(c, rng, 95)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pruned, prunedProfile := shippedScheduler(ctx, b, c, placed, nil)
			full, fullProfile := shippedScheduler(ctx, b, c, placed, func(p *schedconfig.KubeSchedulerProfile) {
				for i, pc := range p.PluginConfig {
					if pc.Name == networklatency.Name {
						p.PluginConfig[i].Args = &runtime.Unknown{Raw: []byte(`{"minCandidates":0}`), ContentType: runtime.ContentTypeJSON}
					}
				}
			})
			view := c.netmap.Current().View(timeNow(), fiveMinutes)
			var agree, decisions, evalPruned, evalFull int
			i := 0
			for b.Loop() {
				for range decisionsPerOp {
					pod := randomDemandPod(c, rng, fmt.Sprintf("p-%d", i))
					pod.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resource.MustParse("1")
					i++
					got := schedule(ctx, b, pruned, prunedProfile, pod)
					want := schedule(ctx, b, full, fullProfile, pod)
					b.StopTimer()
					decisions++
					evalPruned += got.EvaluatedNodes
					evalFull += want.EvaluatedNodes
					if got.SuggestedHost == want.SuggestedHost {
						agree++
					} else {
						_, rttGot := bestAndChosen(view, c, pod, got.SuggestedHost)
						_, rttWant := bestAndChosen(view, c, pod, want.SuggestedHost)
						if d := rttGot - rttWant; d <= 1000 && d >= -1000 {
							agree++
						}
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(100*float64(agree)/float64(decisions), "agree-%")
			b.ReportMetric(float64(evalPruned)/float64(decisions), "evaluated-pruned")
			b.ReportMetric(float64(evalFull)/float64(decisions), "evaluated-full")
		})
	}
}
