package networklatency

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// unstructuredOf renders an object as the scheduler's dynamic informers
// deliver it.
func unstructuredOf(t *testing.T, obj any) *unstructured.Unstructured {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: u}
}

func TestHintNodeNetwork(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{"a": {"hz": 30_000}}))
	slo := testPod("slo", map[string]string{v1alpha1.DemandAnnotation: "hz,sh", v1alpha1.MaxRTTAnnotation: "10ms"})
	noSLO := testPod("free", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	nn := func(at time.Time, rtt map[string]int64) *v1alpha1.NodeNetwork {
		out := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
		for lm, us := range rtt {
			out.Status.Landmarks = append(out.Status.Landmarks, v1alpha1.LandmarkRTT{
				Landmark: lm, RTTP50Microseconds: us, RTTP90Microseconds: us, Samples: 1, ObservedTime: metav1.NewTime(at),
			})
		}
		return out
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		obj  *v1alpha1.NodeNetwork
		want fwk.QueueingHint
	}{
		{"meets every landmark", slo, nn(now, map[string]int64{"hz": 9_000, "sh": 5_000}), fwk.Queue},
		{"misses one landmark", slo, nn(now, map[string]int64{"hz": 9_000, "sh": 50_000}), fwk.QueueSkip},
		{"lacks one landmark", slo, nn(now, map[string]int64{"hz": 9_000}), fwk.QueueSkip},
		{"stale", slo, nn(now.Add(-time.Hour), map[string]int64{"hz": 9_000, "sh": 5_000}), fwk.QueueSkip},
		{"pod without SLO is never rejected for RTT", noSLO, nn(now, map[string]int64{"hz": 1_000}), fwk.QueueSkip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pl.hintNodeNetwork(klog.Background(), tt.pod, nil, unstructuredOf(t, tt.obj))
			assert.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := pl.hintNodeNetwork(klog.Background(), slo, nil, "garbage")
	assert.Error(t, err, "an unexpected object requeues with an error rather than panicking")
}

func TestHintLandmarkAndPodUpdate(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{"a": {"hz": 30_000}}))
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "gz"})
	lm := func(name string) *unstructured.Unstructured {
		return unstructuredOf(t, &v1alpha1.Landmark{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	got, _ := pl.hintLandmark(klog.Background(), pod, nil, lm("gz"))
	assert.Equal(t, fwk.Queue, got)
	got, _ = pl.hintLandmark(klog.Background(), pod, nil, lm("sh"))
	assert.Equal(t, fwk.QueueSkip, got)

	edited := pod.DeepCopy()
	edited.Annotations[v1alpha1.DemandAnnotation] = "hz"
	got, _ = pl.hintPodUpdate(klog.Background(), pod, pod, edited)
	assert.Equal(t, fwk.Queue, got)
	relabelled := pod.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	got, _ = pl.hintPodUpdate(klog.Background(), pod, pod, relabelled)
	assert.Equal(t, fwk.QueueSkip, got)
}

func TestHintNode(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{"near": {"hz": 5_000}, "far": {"hz": 50_000}}))
	pod := testPod("p", map[string]string{v1alpha1.DemandAnnotation: "hz", v1alpha1.MaxRTTAnnotation: "10ms"})
	node := func(name string) *v1.Node { return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	got, _ := pl.hintNode(klog.Background(), pod, nil, node("near"))
	assert.Equal(t, fwk.Queue, got)
	got, _ = pl.hintNode(klog.Background(), pod, nil, node("far"))
	assert.Equal(t, fwk.QueueSkip, got)
	got, _ = pl.hintNode(klog.Background(), pod, nil, node("unmeasured"))
	assert.Equal(t, fwk.QueueSkip, got)
}

func TestHintsForNarrowedPods(t *testing.T) {
	pl, _ := newPlugin(t, cluster(t, map[string]map[string]int64{"near": {"hz": 5_000}}))
	narrowed := testPod("narrowed", map[string]string{v1alpha1.DemandAnnotation: "hz"})
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "far"}}
	got, _ := pl.hintNode(klog.Background(), narrowed, nil, node)
	assert.Equal(t, fwk.Queue, got, "a node outside the candidates may now take a pod the candidates turned down")
	got, _ = pl.hintPodDeleted(klog.Background(), narrowed, &v1.Pod{}, nil)
	assert.Equal(t, fwk.Queue, got, "so may room freed anywhere")

	unknown := testPod("unknown", map[string]string{v1alpha1.DemandAnnotation: "gz"})
	_, st := pl.PreFilter(context.Background(), framework.NewCycleState(), unknown, nil)
	require.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
	got, _ = pl.hintNode(klog.Background(), unknown, nil, node)
	assert.Equal(t, fwk.QueueSkip, got, "PreFilter turned it down for a landmark no node can supply")
	got, _ = pl.hintPodDeleted(klog.Background(), unknown, &v1.Pod{}, nil)
	assert.Equal(t, fwk.QueueSkip, got)
}
