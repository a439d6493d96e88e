package candidates

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// rowsOf builds a picker over one node per row, named after its RTT.
func rowsOf(rtts []int32, full ...int) Picker {
	isFull := map[string]bool{}
	for _, i := range full {
		isFull[fmt.Sprintf("r%d", i)] = true
	}
	return Picker{
		RTT:      rtts,
		RowNodes: func(row int32) []string { return []string{fmt.Sprintf("r%d", row)} },
		Fits:     func(n string) bool { return !isFull[n] },
		Window:   func(int64) int64 { return 2_000 },
		Floor:    2,
	}
}

func names(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Node)
	}
	slices.Sort(out)
	return out
}

func TestPick(t *testing.T) {
	for name, tc := range map[string]struct {
		rtts     []int32
		full     []int
		floor    int
		eligible func(int32) bool
		want     []string
		complete bool
	}{
		"the window holds enough": {
			rtts: []int32{1_000, 2_500, 3_000, 9_000, 20_000}, floor: 2,
			want: []string{"r0", "r1", "r2"}, complete: true,
		},
		"widened outward in RTT order until the floor": {
			rtts: []int32{1_000, 30_000, 9_000, 5_000, 7_000}, floor: 3,
			// r0 within the window; r3 (5ms) and r4 (7ms) make three; r2
			// (9ms) is beyond 5ms + the window.
			want: []string{"r0", "r3", "r4"}, complete: true,
		},
		"full nodes in the window stay, full ones beyond are skipped": {
			rtts: []int32{1_000, 1_500, 6_000, 7_000, 8_000, 9_500}, full: []int{0, 1, 2}, floor: 2,
			// r3 is the nearest that fits: everything that fits within its
			// window (to 9ms) is kept.
			want: []string{"r0", "r1", "r3", "r4"}, complete: true,
		},
		"every row within the window of the nearest that fits": {
			rtts: []int32{1_000, 5_000, 5_500, 6_000, 6_900, 7_100}, full: []int{0}, floor: 1,
			want: []string{"r0", "r1", "r2", "r3", "r4"}, complete: true,
		},
		"all unmeasured": {
			rtts: []int32{-1, -1, -1}, floor: 2, complete: false,
		},
		"fewer nodes than the floor": {
			rtts: []int32{1_000, -1, 50_000}, floor: 5,
			want: []string{"r0", "r2"}, complete: false,
		},
		"a window holding the whole cluster": {
			rtts: []int32{1_000, 1_100, 1_200, 2_900}, floor: 2,
			want: []string{"r0", "r1", "r2", "r3"}, complete: true,
		},
		"rows that miss the SLO are never candidates": {
			rtts: []int32{1_000, 1_200, 4_000, 6_000}, floor: 2,
			eligible: func(row int32) bool { return row != 0 && row != 1 },
			want:     []string{"r2", "r3"}, complete: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := rowsOf(tc.rtts, tc.full...)
			p.Floor, p.Eligible = tc.floor, tc.eligible
			got, complete := p.Pick(nil, new(Scratch))
			assert.Equal(t, tc.want, names(got))
			assert.Equal(t, tc.complete, complete)
		})
	}
}

// pickByRule is the candidate rule applied literally: every row sorted,
// every node tested.
func pickByRule(p Picker) (_ []string, complete bool) {
	var rows []int32
	for row, v := range p.RTT {
		if v >= 0 && len(p.RowNodes(int32(row))) > 0 && (p.Eligible == nil || p.Eligible(int32(row))) {
			rows = append(rows, int32(row))
		}
	}
	slices.SortFunc(rows, func(a, b int32) int {
		if p.RTT[a] != p.RTT[b] {
			return int(p.RTT[a] - p.RTT[b])
		}
		return int(a - b)
	})
	var out []string
	if len(rows) == 0 {
		return out, false
	}
	limit := p.RTT[rows[0]] + int32(p.Window(int64(p.RTT[rows[0]])))
	fitting, bestFit := 0, int32(-1)
	enough := func(next int32) bool {
		return fitting >= p.Floor && bestFit >= 0 && next > bestFit+int32(p.Window(int64(bestFit)))
	}
	for _, row := range rows {
		v := p.RTT[row]
		if v > limit && enough(v) {
			slices.Sort(out)
			return out, true
		}
		for _, n := range p.RowNodes(row) {
			fits := p.Fits(n)
			if v <= limit || fits {
				out = append(out, n)
			}
			if fits {
				fitting++
				if bestFit < 0 {
					bestFit = v
				}
			}
		}
	}
	slices.Sort(out)
	return out, enough(1 << 30)
}

func TestPickFollowsTheRuleOnLargeTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		rows := 1_000 + rng.IntN(30_000)
		rtts := make([]int32, rows)
		for r := range rtts {
			rtts[r] = 2_000 + rng.Int32N(80_000)
			if rng.IntN(25) == 0 {
				rtts[r] = -1
			}
		}
		// A few near rows, placed where a strided sample misses them.
		stride := max(1, rows/sampleRows)
		for range rng.IntN(300) {
			r := rng.IntN(rows/stride)*stride + stride/2
			if r < rows {
				rtts[r] = rng.Int32N(3_000)
			}
		}
		var full []int
		for r := range rows {
			if rng.IntN(4) == 0 {
				full = append(full, r)
			}
		}
		p := rowsOf(rtts, full...)
		p.Floor = []int{1, 100, 1_000, 50_000}[trial%4]
		p.Window = func(best int64) int64 { return max(1_500, best/8) }
		if trial%3 == 0 {
			p.Eligible = func(row int32) bool { return row%7 != 0 }
		}
		want, wantComplete := pickByRule(p)
		got, complete := p.Pick(nil, new(Scratch))
		require.Equal(t, want, names(got), "trial %d: %d rows, floor %d", trial, rows, p.Floor)
		require.Equal(t, wantComplete, complete, "trial %d", trial)
	}
}

func TestPickSkipsRowsWithoutNodes(t *testing.T) {
	p := rowsOf([]int32{500, 4_000, 4_500})
	p.RowNodes = func(row int32) []string {
		if row == 0 {
			return nil // a freed row
		}
		return []string{fmt.Sprintf("r%d", row)}
	}
	got, complete := p.Pick(nil, new(Scratch))
	assert.True(t, complete)
	assert.Equal(t, []string{"r1", "r2"}, names(got), "the window is anchored at the best row that has nodes")
}

func node(name string, cpu string, mutate ...func(*v1.Node)) *v1.Node {
	n := st.MakeNode().Name(name).Label("type", "ens").Capacity(map[v1.ResourceName]string{v1.ResourceCPU: cpu, v1.ResourceMemory: "8Gi", v1.ResourcePods: "10"}).Obj()
	for _, m := range mutate {
		m(n)
	}
	return n
}

func podRequesting(name, cpu string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	p.Spec.Containers = []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}
	return p
}

func TestAdmission(t *testing.T) {
	tainted := func(n *v1.Node) {
		n.Spec.Taints = []v1.Taint{{Key: "edge", Effect: v1.TaintEffectNoSchedule}}
	}
	placed := podRequesting("placed", "3")
	placed.Spec.NodeName = "busy"
	snap := cache.NewSnapshot([]*v1.Pod{placed}, []*v1.Node{
		node("free", "4"),
		node("busy", "4"),
		node("tainted", "4", tainted),
		node("prefer-no", "4", func(n *v1.Node) {
			n.Spec.Taints = []v1.Taint{{Key: "x", Effect: v1.TaintEffectPreferNoSchedule}}
		}),
		node("cordoned", "4", func(n *v1.Node) { n.Spec.Unschedulable = true }),
		node("cdn", "4", func(n *v1.Node) { n.Labels["type"] = "cdn" }),
	})
	pod := podRequesting("p", "2")
	pod.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "type", Operator: v1.NodeSelectorOpIn, Values: []string{"ens"}}}}},
	}}}
	a := NewAdmission(klog.Background(), pod, snap.NodeInfos(), nil, netmap.View{})
	for n, want := range map[string]bool{
		"free": true, "busy": false, "tainted": false, "prefer-no": true, "cordoned": false, "cdn": false, "missing": false,
	} {
		assert.Equal(t, want, a.Admits(n), n)
	}
	pod.Spec.Tolerations = []v1.Toleration{{Key: "edge", Operator: v1.TolerationOpExists}}
	assert.True(t, NewAdmission(klog.Background(), pod, snap.NodeInfos(), nil, netmap.View{}).Admits("tainted"), "a tolerated taint")
}

func TestPinnedByName(t *testing.T) {
	pinned := func(terms ...v1.NodeSelectorTerm) *v1.Pod {
		p := &v1.Pod{}
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}}
		return p
	}
	byName := v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n1"}}}}
	byLabel := v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "type", Operator: v1.NodeSelectorOpIn, Values: []string{"ens"}}}}
	assert.True(t, PinnedByName(pinned(byName)))
	assert.False(t, PinnedByName(pinned(byName, byLabel)), "a term without a name admits other nodes")
	assert.False(t, PinnedByName(&v1.Pod{}))
}

func TestCoarseBuckets(t *testing.T) {
	prev := 0
	for v := int32(0); v < 70_000_000; v += 1 + v/1000 {
		k := coarse(v)
		require.GreaterOrEqual(t, k, prev, "buckets grow with the RTT (%dus)", v)
		require.LessOrEqual(t, coarseLow(k), v, "bucket %d starts at or below %dus", k, v)
		if k < numCoarse-1 {
			require.Greater(t, coarseLow(k+1), v, "bucket %d ends above %dus", k, v)
		}
		prev = k
	}
}
