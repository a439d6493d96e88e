package networklatency

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/verdicts"
)

// TestDecisionEvent: Reserve records NetworkLatency's view of the decision
// on the pod: the chosen node's RTT per demand landmark, with its source and
// age, how many nodes the SLO admitted, and the best other nodes.
func TestDecisionEvent(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{{
		name:        "no SLO: the runners-up among every node",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "hz:3,sh:1"},
		want:        "node a: weighted RTT 4ms (hz 3ms measured 1m0s ago, sh 7ms measured 1m0s ago); next best: b 6.5ms, c 12ms",
	}, {
		name:        "SLO: the runners-up among the nodes it admitted",
		annotations: map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "6ms"},
		want:        "node a: weighted RTT 3ms (hz 3ms measured 1m0s ago); SLO admitted 2 of 4 nodes; next best: b 5ms",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := cluster(t, map[string]map[string]int64{
				"a": {"hz": 3_000, "sh": 7_000},
				"b": {"hz": 5_000, "sh": 11_000},
				"c": {"hz": 9_000, "sh": 21_000},
				"d": {"hz": 20_000},
			})
			pl, h := newPlugin(t, m)
			pod := testPod("p", tc.annotations)
			cs := framework.NewCycleState()
			_, st := pl.PreFilter(context.Background(), cs, pod, nil)
			require.True(t, st.IsSuccess(), st.Message())
			require.Nil(t, pl.PreScore(context.Background(), cs, pod, []fwk.NodeInfo{nodeInfo("a"), nodeInfo("b")}))
			require.Nil(t, pl.Reserve(context.Background(), cs, pod, "a"))
			require.Len(t, h.events.Events, 1)
			assert.Equal(t, "Normal "+v1alpha1.DecisionReason+" "+tc.want, <-h.events.Events)
		})
	}
}

// TestDecisionsNotRecorded: with recordDecisions off, Reserve writes no
// event (one API write fewer per placed pod).
func TestDecisionsNotRecorded(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{"a": {"hz": 3_000}, "b": {"hz": 5_000}})
	pl, h := newPlugin(t, m)
	pl.args.RecordDecisions = false
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(context.Background(), cs, pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	require.Nil(t, pl.Reserve(context.Background(), cs, pod, "a"))
	assert.Empty(t, h.events.Events)
}

// TestDecisionNamesRejections: the recorded decision says how many nodes
// edgeplace's plugins rejected in the cycle, and why.
func TestDecisionNamesRejections(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{"a": {"hz": 3_000}, "b": {"hz": 5_000}})
	pl, h := newPlugin(t, m)
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(context.Background(), cs, pod, nil)
	require.True(t, st.IsSuccess())
	verdicts.Reject(cs, "Locality", "node(s) are on a forbidden carrier")
	verdicts.Reject(cs, "Locality", "node(s) are on a forbidden carrier")
	require.Nil(t, pl.Reserve(context.Background(), cs, pod, "a"))
	assert.Contains(t, <-h.events.Events, "; Locality rejected 2 (node(s) are on a forbidden carrier); next best: b 5ms")
}

// TestDecisionEstimated: the decision lists the landmarks its node's RTT
// was not freshly measured for, which Reserve asks the node's probe to
// measure now: all of them for a node without a row.
func TestDecisionEstimated(t *testing.T) {
	m := cluster(t, map[string]map[string]int64{
		"a": {"hz": 3_000, "sh": 7_000},
		"b": {"hz": 5_000},
	})
	pl, _ := newPlugin(t, m)
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz,sh"})
	cs := framework.NewCycleState()
	_, st := pl.PreFilter(context.Background(), cs, pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	s, ok := pl.state.Read(cs)
	require.True(t, ok)
	for node, want := range map[string][]string{"a": nil, "b": {"sh"}, "new": {"hz", "sh"}} {
		assert.Equal(t, want, pl.decide(s, node).estimated, node)
	}
}
