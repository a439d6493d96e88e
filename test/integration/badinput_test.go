package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// hostileAnnotations are pods' annotations the intent parser must refuse,
// each with the annotation its refusal must name.
func hostileAnnotations(lm string) []struct {
	annotations map[string]string
	names       string
} {
	many := make([]string, 10_000)
	for i := range many {
		many[i] = fmt.Sprintf("lm%d", i)
	}
	return []struct {
		annotations map[string]string
		names       string
	}{
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.MaxRTTAnnotation: "NaN"}, v1alpha1.MaxRTTAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.MaxRTTAnnotation: "Inf"}, v1alpha1.MaxRTTAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.MaxRTTAnnotation: "1e400ms"}, v1alpha1.MaxRTTAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.MaxRTTAnnotation: "-5ms"}, v1alpha1.MaxRTTAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.MaxRTTAnnotation: "10"}, v1alpha1.MaxRTTAnnotation}, // no unit
		{map[string]string{v1alpha1.DemandAnnotation: lm + ":NaN"}, v1alpha1.DemandAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm + ":1e400"}, v1alpha1.DemandAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm + ":1," + lm + ":2"}, v1alpha1.DemandAnnotation}, // duplicate key
		{map[string]string{v1alpha1.DemandAnnotation: strings.Join(many, ",")}, v1alpha1.DemandAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: strings.Repeat("x", 100_000)}, v1alpha1.DemandAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.PercentileAnnotation: "p99"}, v1alpha1.PercentileAnnotation},
		{map[string]string{v1alpha1.DemandAnnotation: lm, v1alpha1.EgressAnnotation: "lots"}, v1alpha1.EgressAnnotation},
	}
}

// TestBadInputAtVolume writes thousands of malformed objects and hostile
// annotations while good pods keep arriving: the schema refuses the bad
// NodeNetworks naming the field, every hostile pod is held with a condition
// naming its annotation, every good pod is bound, and the scheduler neither
// dies nor grows without bound.
func TestBadInputAtVolume(t *testing.T) {
	e, f := ownEnv(t)
	lm := f.prefix + "-users"
	f.edgeCluster(lm, 5)
	rssBefore := rss(t, e.sched.Pid())

	// Malformed measurements: refused by the CRD schema, naming the field.
	bad := []struct {
		mutate func(*v1alpha1.LandmarkRTT)
		field  string
	}{
		{func(m *v1alpha1.LandmarkRTT) { m.RTTP50Microseconds = -1 }, "rttP50Microseconds"},
		{func(m *v1alpha1.LandmarkRTT) { m.RTTP90Microseconds = 1 << 40 }, "rttP90Microseconds"},
		{func(m *v1alpha1.LandmarkRTT) { m.LossPartsPerMillion = 2_000_000 }, "lossPartsPerMillion"},
		{func(m *v1alpha1.LandmarkRTT) { m.Samples = 0 }, "samples"},
		{func(m *v1alpha1.LandmarkRTT) { m.Landmark = strings.Repeat("l", 300) }, "landmark"},
	}
	var wg sync.WaitGroup
	refused := make([]error, 1000)
	for i := range refused {
		wg.Go(func() {
			node := fmt.Sprintf("%s-n%02d", f.prefix, i%5)
			nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(f.ctx, node, metav1.GetOptions{})
			if err != nil {
				refused[i] = err
				return
			}
			entry := v1alpha1.LandmarkRTT{Landmark: lm, RTTP50Microseconds: 1000, RTTP90Microseconds: 2000, Samples: 5, ObservedTime: metav1.Now()}
			bad[i%len(bad)].mutate(&entry)
			nn.Status.Landmarks = []v1alpha1.LandmarkRTT{entry}
			_, refused[i] = e.edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(f.ctx, nn, metav1.UpdateOptions{})
		})
	}

	// Hostile pods and good pods at the same time.
	hostile := hostileAnnotations(lm)
	const hostilePods, goodPods = 600, 200
	for i := range hostilePods {
		wg.Go(func() {
			_, err := e.kube.CoreV1().Pods(f.ns).Create(f.ctx, newPod(f.ns, fmt.Sprintf("bad-%03d", i), hostile[i%len(hostile)].annotations, 10), metav1.CreateOptions{})
			if err != nil {
				t.Errorf("creating hostile pod %d: %v", i, err)
			}
		})
	}
	for i := range goodPods {
		wg.Go(func() {
			_, err := e.kube.CoreV1().Pods(f.ns).Create(f.ctx, newPod(f.ns, fmt.Sprintf("good-%03d", i), demand(lm, "50ms"), 10), metav1.CreateOptions{})
			if err != nil {
				t.Errorf("creating good pod %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	for i, err := range refused {
		require.Error(t, err, "malformed NodeNetwork %d was accepted", i)
		require.True(t, apierrors.IsInvalid(err), "%d: %v", i, err)
		assert.Contains(t, err.Error(), bad[i%len(bad)].field)
	}
	for i := range goodPods {
		f.waitBound(fmt.Sprintf("good-%03d", i), 2*time.Minute)
	}
	for i := range hostilePods {
		name := fmt.Sprintf("bad-%03d", i)
		msg := f.waitUnschedulable(name)
		assert.Contains(t, msg, hostile[i%len(hostile)].names, name)
		assert.Less(t, len(msg), 2_000, "%s: the condition stays readable", name)
	}
	select {
	case <-e.sched.Done():
		t.Fatal("the scheduler died")
	default:
	}
	rssAfter := rss(t, e.sched.Pid())
	t.Logf("scheduler RSS %d MiB before, %d MiB after %d refused NodeNetworks and %d hostile pods",
		rssBefore>>20, rssAfter>>20, len(refused), hostilePods)
	assert.Less(t, rssAfter-rssBefore, int64(300<<20), "bounded memory")
}

// rss is a process's resident set size in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
