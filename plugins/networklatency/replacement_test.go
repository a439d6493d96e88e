package networklatency

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/utils/ptr"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

var replacementNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// replicaOf is a pod of the ReplicaSet rs, and evictedTo the same pod
// being deleted with the rebalancer's expected node on it.
func replicaOf(rs, name string, annotations map[string]string) *v1.Pod {
	p := podRequesting(name, "1", annotations)
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs, UID: types.UID(rs), Controller: ptr.To(true)}}
	return p
}

func evictedTo(p *v1.Pod, node string, deadline time.Time) *v1.Pod {
	p = p.DeepCopy()
	p.Annotations = map[string]string{v1alpha1.ReplacementNodeAnnotation: node, v1alpha1.ReplacementDeadlineAnnotation: deadline.Format(time.RFC3339)}
	p.DeletionTimestamp = &metav1.Time{Time: replacementNow}
	return p
}

func TestReplacements(t *testing.T) {
	later := replacementNow.Add(time.Minute)
	evicted := replicaOf("rs", "old", nil)
	next := replicaOf("rs", "new", nil)
	tests := []struct {
		name  string
		noted *v1.Pod
		taker *v1.Pod
		want  string // "": nothing taken
	}{
		{"the next replica of the workload", evictedTo(evicted, "n07", later), next, "n07"},
		{"a replica of another workload", evictedTo(evicted, "n07", later), replicaOf("other", "new", nil), ""},
		{"the evicted pod itself (a StatefulSet's replacement keeps the name, not the UID)", evictedTo(evicted, "n07", later), evicted, ""},
		{"a deadline that has passed", evictedTo(evicted, "n07", replacementNow), next, ""},
		{"a deadline that is not a time", func() *v1.Pod {
			p := evictedTo(evicted, "n07", later)
			p.Annotations[v1alpha1.ReplacementDeadlineAnnotation] = "soon"
			return p
		}(), next, ""},
		{"no expected node", func() *v1.Pod {
			p := evictedTo(evicted, "", later)
			return p
		}(), next, ""},
		{"a pod without a controller", func() *v1.Pod {
			p := evictedTo(evicted, "n07", later)
			p.OwnerReferences = nil
			return p
		}(), next, ""},
		{"a pod without a controller takes nothing", evictedTo(evicted, "n07", later), podRequesting("loose", "1", nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplacements()
			r.note(tt.noted, replacementNow)
			got, ok := r.take(tt.taker, replacementNow)
			assert.Equal(t, tt.want != "", ok)
			assert.Equal(t, tt.want, got.node)
			if ok {
				assert.Equal(t, "old", got.evicted)
				_, again := r.take(tt.taker, replacementNow)
				assert.False(t, again, "one attempt is steered")
				// The pod's later updates while it terminates, and its
				// deletion, bring nothing back.
				r.note(tt.noted, replacementNow.Add(time.Second))
				_, again = r.take(tt.taker, replacementNow.Add(time.Second))
				assert.False(t, again, "an evicted pod is noted once")
			}
		})
	}
}

func TestReplacementsForgetExpired(t *testing.T) {
	r := newReplacements()
	r.note(evictedTo(replicaOf("a", "old-a", nil), "n01", replacementNow.Add(time.Minute)), replacementNow)
	r.note(evictedTo(replicaOf("b", "old-b", nil), "n02", replacementNow.Add(3*time.Minute)), replacementNow.Add(2*time.Minute))
	assert.Len(t, r.byOwner, 1, "a's expectation passed its deadline and went when b's came")
	_, ok := r.take(replicaOf("a", "new-a", nil), replacementNow.Add(30*time.Second))
	assert.False(t, ok)
}

// TestPreFilterOffersTheExpectedReplacement: a replica of a workload the
// rebalancer moved a pod of is offered the node the rebalancer expects, and
// only that node, when the node meets its bounds and has room; otherwise,
// and on its next attempt, it gets the usual candidates.
func TestPreFilterOffersTheExpectedReplacement(t *testing.T) {
	usual := []string{"n00", "n01", "n02"} // the 1ms window, widened to 3 nodes with room
	tests := []struct {
		name     string
		expected string
		slo      string
		busy     map[string]bool
		want     []string
	}{
		{"a node further out that meets the bounds", "n07", "", nil, []string{"n07"}},
		{"within the SLO", "n07", "10ms", nil, []string{"n07"}},
		{"beyond the SLO", "n20", "10ms", nil, usual},
		{"no room", "n07", "", map[string]bool{"n07": true}, usual},
		{"not in the map", "gone", "", nil, usual},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, _ := narrowingCluster(t, tt.busy)
			annotations := map[string]string{v1alpha1.DemandAnnotation: "hz"}
			if tt.slo != "" {
				annotations[v1alpha1.MaxRTTAnnotation] = tt.slo
			}
			now := pl.now()
			pl.replacements.note(evictedTo(replicaOf("rs", "old", annotations), tt.expected, now.Add(time.Minute)), now)
			pod := replicaOf("rs", "new", annotations)
			cs := framework.NewCycleState()
			res, st := pl.PreFilter(context.Background(), cs, pod, nil)
			require.True(t, st.IsSuccess(), st.Message())
			require.NotNil(t, res)
			assert.ElementsMatch(t, tt.want, res.NodeNames.UnsortedList())
			s, _ := pl.state.Read(cs)
			if len(tt.want) == 1 {
				assert.Contains(t, pl.decide(s, tt.expected).String(), "the node the rebalancer expected when it evicted pod old")
			} else {
				assert.Empty(t, s.replacing)
			}

			res, st = pl.PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
			require.True(t, st.IsSuccess(), st.Message())
			assert.ElementsMatch(t, usual, res.NodeNames.UnsortedList(), "the next attempt is not steered")
		})
	}
}

// TestDecisionNamesAStatefulSetsEarlierInstance: a StatefulSet's
// replacement has the name of the pod the rebalancer evicted, so the
// decision does not name the pod after itself.
func TestDecisionNamesAStatefulSetsEarlierInstance(t *testing.T) {
	pl, _ := narrowingCluster(t, nil)
	annotations := map[string]string{v1alpha1.DemandAnnotation: "hz"}
	now := pl.now()
	evicted := replicaOf("web", "web-1", annotations)
	evicted.UID = "web-1-before"
	pl.replacements.note(evictedTo(evicted, "n07", now.Add(time.Minute)), now)
	pod := replicaOf("web", "web-1", annotations)
	pod.UID = "web-1-after"
	cs := framework.NewCycleState()
	res, st := pl.PreFilter(context.Background(), cs, pod, nil)
	require.True(t, st.IsSuccess(), st.Message())
	require.NotNil(t, res)
	assert.ElementsMatch(t, []string{"n07"}, res.NodeNames.UnsortedList())
	s, _ := pl.state.Read(cs)
	decision := pl.decide(s, "n07").String()
	assert.Contains(t, decision, "the node the rebalancer expected when it evicted this pod's previous instance")
	assert.NotContains(t, decision, "evicted pod web-1")
}
