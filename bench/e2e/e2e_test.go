// Package e2e measures scheduling throughput end to end with the upstream
// scheduler_perf harness (k8s.io/kubernetes/test/integration/scheduler_perf):
// the stock profile against the shipped edgeplace profile, with and without
// an SLO, on the same nodes and pods. See performance-config.yaml.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/kubernetes/pkg/scheduler"
	perf "k8s.io/kubernetes/test/integration/scheduler_perf"
	"k8s.io/kubernetes/test/utils/client-go/ktesting"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
	"github.com/edgeplace/edgeplace/pkg/feed"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
	"github.com/edgeplace/edgeplace/plugins"
)

func TestMain(m *testing.M) {
	if err := perf.InitTests(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m.Run()
}

// maps is the scheduler's network map source: the benchmark waits on its
// map (waitForMap), which runs in this process.
var maps = feed.FromAPIServer()

func BenchmarkPerfScheduling(b *testing.B) {
	perf.RunBenchmarkPerfScheduling(b, "performance-config.yaml", "edgeplace",
		plugins.Registry(maps),
		perf.WithPrepareFn(prepare),
		perf.WithNodeUpdateFn(publishMeasurements),
		perf.WithPodsSchedulingTimeout(20*time.Minute),
	)
}

// landmarks are the telecom users of every province; the synthetic model
// gives each node's RTT to them from the node's site.
func landmarks() []synthetic.Site {
	var out []synthetic.Site
	for _, s := range synthetic.Sites() {
		if s.Carrier == "telecom" {
			out = append(out, s)
		}
	}
	return out
}

// prepare installs the CRDs and the Landmarks once the API server runs, and
// arranges for the batching counters to be recorded when the workload ends.
func prepare(tCtx ktesting.TContext) error {
	if err := controlplane.InstallCRDs(tCtx, tCtx.RESTConfig()); err != nil {
		return err
	}
	edge, err := edgeclient.NewForConfig(feed.JSONConfig(tCtx.RESTConfig()))
	if err != nil {
		return err
	}
	for _, s := range landmarks() {
		if _, err := edge.EdgeplaceV1alpha1().Landmarks().Create(tCtx, synthetic.Landmark(s), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	name := tCtx.TB().Name()
	// Cleanups run last-first: this one reads the counters before the
	// harness resets the metrics registry.
	tCtx.TB().Cleanup(func() { recordBatching(tCtx.TB(), name) })
	return nil
}

// publishMeasurements gives every node a NodeNetwork, as its probe would,
// and waits until the scheduler's network map holds them all, so that the
// measured phase starts with complete measurements.
func publishMeasurements(tCtx ktesting.TContext, _ *scheduler.Scheduler, _ *perf.Workload, nodes *v1.NodeList) error {
	edge, err := edgeclient.NewForConfig(feed.JSONConfig(tCtx.RESTConfig()))
	if err != nil {
		return err
	}
	sites := append(synthetic.Sites(), synthetic.CDNSites()...)
	users := landmarks()
	now := time.Now()
	work := make(chan int)
	errs := make(chan error, len(nodes.Items))
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				node := &nodes.Items[i]
				site := sites[i%len(sites)]
				nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Create(tCtx, &v1alpha1.NodeNetwork{
					ObjectMeta: metav1.ObjectMeta{Name: node.Name, OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
					}}},
				}, metav1.CreateOptions{})
				if err != nil {
					errs <- err
					continue
				}
				nn.Status.Landmarks = synthetic.Measurements(site, users, now)
				if _, err := edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(tCtx, nn, metav1.UpdateOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
	for i := range nodes.Items {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return waitForMap(tCtx, nodes)
}

// waitForMap polls the scheduler's network map (it runs in this process)
// until every node has a fresh measurement to every landmark. The map finds
// CRDs installed after the scheduler started within its discovery interval.
func waitForMap(ctx context.Context, nodes *v1.NodeList) error {
	lm := landmarks()[0].Population()
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		m, ok := maps.Started()
		if !ok {
			return true, nil // a profile without edgeplace: nothing to wait for
		}
		view := m.Current().View(time.Now(), time.Hour)
		id, ok := view.Landmark(lm)
		if view.State() != netmap.Ready || !ok {
			return false, nil
		}
		for _, n := range nodes.Items {
			row, ok := view.Row(n.Name)
			if !ok {
				return false, nil
			}
			if _, fresh := view.RTT(row, id, netmap.P90); !fresh {
				return false, nil
			}
		}
		return true, nil
	})
}

// recordBatching appends the OpportunisticBatching counters of the
// workload's profiles to $EDGEPLACE_E2E_RESULTS/batching.jsonl.
func recordBatching(tb interface{ Logf(string, ...any) }, workload string) {
	dir := os.Getenv("EDGEPLACE_E2E_RESULTS")
	if dir == "" {
		return
	}
	out := map[string]any{"workload": workload}
	for _, profile := range []string{"default-scheduler", "edgeplace-scheduler"} {
		values, err := testutil.GetCounterValuesFromGatherer(legacyregistry.DefaultGatherer,
			"scheduler_batch_attempts_total", map[string]string{"profile": profile}, "result")
		if err != nil || len(values) == 0 {
			continue
		}
		out[profile] = values
	}
	line, _ := json.Marshal(out)
	f, err := os.OpenFile(filepath.Join(dir, "batching.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Logf("recording batching counters: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, string(line))
}
