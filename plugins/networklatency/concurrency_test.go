package networklatency

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// TestSchedulingDuringMapUpdates runs scheduling cycles the way the
// framework does (Filter and Score on many nodes in parallel on one cycle
// state, several pods' cycles one after the other) while the network map
// publishes new snapshots and re-activates pods. Run with -race.
func TestSchedulingDuringMapUpdates(t *testing.T) {
	rtts := map[string]map[string]int64{}
	var names []string
	for i := range 64 {
		n := fmt.Sprintf("n%02d", i)
		names = append(names, n)
		rtts[n] = map[string]int64{"hz": int64(1_000 + 500*i), "sh": int64(40_000 - 500*i)}
	}
	m := cluster(t, rtts)
	pl, h := newPlugin(t, m)
	go func() {
		for range h.events.Events { // Reserve records one event per pod
		}
	}()
	infos := make([]fwk.NodeInfo, len(names))
	for i, n := range names {
		infos[i] = nodeInfo(n)
	}

	var stop atomic.Bool
	var updates sync.WaitGroup
	updates.Go(func() {
		for round := 0; !stop.Load(); round++ {
			n := names[round%len(names)]
			nn := measuredAt(n, "hz", int64(1_000+round%20_000))
			nn.Status.Landmarks = append(nn.Status.Landmarks, measuredAt(n, "sh", int64(2_000+(round*7)%20_000)).Status.Landmarks...)
			m.SetNodeNetwork(nn)
			m.Flush()
		}
	})

	ctx := context.Background()
	for cycle := range 200 {
		pod := testPod(fmt.Sprintf("p%d", cycle), map[string]string{
			v1alpha1.DemandAnnotation: "hz:3,sh:1", v1alpha1.MaxRTTAnnotation: "30ms",
		})
		cs := framework.NewCycleState()
		res, st := pl.PreFilter(ctx, cs, pod, infos)
		require.True(t, st.IsSuccess(), st.Message())
		var feasible []fwk.NodeInfo
		var mu sync.Mutex
		var filters sync.WaitGroup
		for _, ni := range infos {
			if res != nil && !res.NodeNames.Has(ni.Node().Name) {
				continue
			}
			filters.Go(func() {
				if pl.Filter(ctx, cs, pod, ni).IsSuccess() {
					mu.Lock()
					feasible = append(feasible, ni)
					mu.Unlock()
				}
			})
		}
		filters.Wait()
		require.Nil(t, pl.PreScore(ctx, cs, pod, feasible))
		scores := make(fwk.NodeScoreList, len(feasible))
		var scorers sync.WaitGroup
		for i, ni := range feasible {
			scorers.Go(func() {
				s, st := pl.Score(ctx, cs, pod, ni)
				assert.True(t, st.IsSuccess())
				scores[i] = fwk.NodeScore{Name: ni.Node().Name, Score: s}
			})
		}
		scorers.Wait()
		require.Nil(t, pl.NormalizeScore(ctx, cs, pod, scores))
		for _, s := range scores {
			assert.True(t, s.Score >= 0 && s.Score <= fwk.MaxNodeScore, "score %d", s.Score)
		}
		if len(scores) > 0 {
			require.Nil(t, pl.Reserve(ctx, cs, pod, scores[0].Name))
		}
	}
	stop.Store(true)
	updates.Wait()
}
