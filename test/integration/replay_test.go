package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
)

var (
	replaySlices = flag.Int("replay-slices", 0, "time slices of the Seattle data to replay (0: all 688; 20 with -short)")
	replayTick   = flag.Duration("replay-tick", 3*time.Second, "the real time one slice, standing for one minute, takes (publishing a slice takes about 2 s on 2 cores)")
	// The reported figures are of seed 1, fixed before any result was seen;
	// other seeds check that a result is not seed 1's alone.
	replaySeed          = flag.Uint64("replay-seed", 1, "the seed the workloads' users are drawn with")
	replayWith          = flag.Bool("replay-with-only", false, "replay only with rebalancing (no run, and no figures, without)")
	replayPlaceOnTarget = flag.Bool("replay-place-on-target", false, "run the rebalancer with placeReplacementOnTarget and its RBAC")
)

// The replay's fixed set-up (issue: fix it before looking at results).
const (
	replayWorkloads = 20
	replayReplicas  = 2
	replayDemand    = 3
	replaySLOFactor = 1.25
)

// seattle is the testbed's RTT over time (testdata/README.md).
type seattle struct {
	hosts, slices int
	units         []uint16 // 10 ms units, pair-major; 0: not measured
}

func loadSeattle(tb testing.TB) *seattle {
	tb.Helper()
	f, err := os.Open("testdata/seattle-rtt-timeslices.u16.gz")
	require.NoError(tb, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(tb, err)
	raw, err := io.ReadAll(z)
	require.NoError(tb, err)
	s := &seattle{hosts: 99, slices: 688}
	require.Len(tb, raw, 2*s.hosts*s.hosts*s.slices)
	s.units = make([]uint16, len(raw)/2)
	require.NoError(tb, binary.Read(bytes.NewReader(raw), binary.LittleEndian, s.units))
	return s
}

// measured returns the RTT (ms) from src to dst in slice t, if measured.
func (s *seattle) measured(src, dst, t int) (float64, bool) {
	u := s.units[(src*s.hosts+dst)*s.slices+t]
	return float64(u) * 10, u != 0
}

// truth is the RTT the replay holds a slice to: the slice's measurement,
// else the pair's last one (a probe keeps its last window), else none.
// A host's own place gets the smallest RTT measured from it in the slice,
// as evaluate's --self-rtt default does; the data hold no self pairs.
type truth struct {
	s    *seattle
	last [][]float64 // [src][dst], ms; 0: never measured
	at   [][]int     // slice of last
	self []float64   // this slice's, per host
}

func newTruth(s *seattle) *truth {
	tr := &truth{s: s, self: make([]float64, s.hosts)}
	for range s.hosts {
		tr.last = append(tr.last, make([]float64, s.hosts))
		tr.at = append(tr.at, make([]int, s.hosts))
	}
	return tr
}

// advance moves to slice t.
func (tr *truth) advance(t int) {
	for src := range tr.s.hosts {
		tr.self[src] = 0
		for dst := range tr.s.hosts {
			if ms, ok := tr.s.measured(src, dst, t); ok {
				tr.last[src][dst], tr.at[src][dst] = ms, t
				if tr.self[src] == 0 || ms < tr.self[src] {
					tr.self[src] = ms
				}
			}
		}
	}
}

func (tr *truth) rtt(src, dst int) (float64, bool) {
	if src == dst {
		return tr.self[src], tr.self[src] > 0
	}
	return tr.last[src][dst], tr.last[src][dst] > 0
}

// probeWindows is what the probes publish: each pair's p50 and p90 over
// its measurements of the last probeWindow slices, as the probe's default
// window of 60 samples 5 s apart covers the last 5 minutes. With none in
// the window the pair keeps its last figures and their time, and goes
// stale after the TTL. A site's own host is measured every slice (truth's
// self RTT).
type probeWindows struct {
	hosts int
	rtts  [][][]float64 // [src][dst]: the window's RTTs, ms, with...
	at    [][][]int     // ...the slices they were measured in
	last  [][]v1alpha1.LandmarkRTT
}

const probeWindow = 5 // slices

func newProbeWindows(hosts int) *probeWindows {
	w := &probeWindows{hosts: hosts}
	for range hosts {
		w.rtts = append(w.rtts, make([][]float64, hosts))
		w.at = append(w.at, make([][]int, hosts))
		w.last = append(w.last, make([]v1alpha1.LandmarkRTT, hosts))
	}
	return w
}

func (w *probeWindows) add(tr *truth, data *seattle, t int, now time.Time) {
	for src := range w.hosts {
		for dst := range w.hosts {
			ms, fresh := data.measured(src, dst, t)
			if src == dst {
				ms, fresh = tr.rtt(src, dst)
			}
			rtts, at := w.rtts[src][dst], w.at[src][dst]
			if fresh {
				rtts, at = append(rtts, ms), append(at, t)
			}
			for len(at) > 0 && at[0] <= t-probeWindow {
				rtts, at = rtts[1:], at[1:]
			}
			w.rtts[src][dst], w.at[src][dst] = rtts, at
			if fresh {
				sorted := slices.Clone(rtts)
				sort.Float64s(sorted)
				w.last[src][dst] = v1alpha1.LandmarkRTT{
					Landmark:           host(dst),
					RTTP50Microseconds: int64(empirical(sorted, 0.5) * 1000),
					RTTP90Microseconds: int64(empirical(sorted, 0.9) * 1000),
					Samples:            int32(len(sorted)),
					ObservedTime:       metav1.NewTime(now),
				}
			}
		}
	}
}

// empirical is the p-quantile of sorted values as the probe takes it
// (gonum's stat.Empirical).
func empirical(sorted []float64, p float64) float64 {
	return sorted[max(0, int(math.Ceil(p*float64(len(sorted))))-1)]
}

// status is a site's NodeNetwork status entries.
func (w *probeWindows) status(src int) []v1alpha1.LandmarkRTT {
	var out []v1alpha1.LandmarkRTT
	for dst := range w.hosts {
		if e := w.last[src][dst]; e.Landmark != "" {
			out = append(out, e)
		}
	}
	return out
}

// workload is one Deployment of the replay: its users' hosts and its SLO.
type replayWorkload struct {
	name  string
	hosts []int
	slo   float64 // ms
}

// replayPlan draws the workloads' users with the fixed seed and sets each
// SLO to 1.25x the median, over the slices, of the best site's RTT: the
// smallest, over sites, of the largest RTT from the site to the
// workload's users.
func replayPlan(s *seattle, nSlices int) []replayWorkload {
	rng := rand.New(rand.NewPCG(*replaySeed, 0))
	var out []replayWorkload
	for w := range replayWorkloads {
		hosts := rng.Perm(s.hosts)[:replayDemand]
		slices.Sort(hosts)
		out = append(out, replayWorkload{name: fmt.Sprintf("w%02d", w), hosts: hosts})
	}
	tr := newTruth(s)
	best := make([][]float64, len(out))
	for t := range nSlices {
		tr.advance(t)
		for i, w := range out {
			b := math.Inf(1)
			for site := range s.hosts {
				worst := 0.0
				for _, h := range w.hosts {
					ms, ok := tr.rtt(site, h)
					if !ok {
						worst = math.Inf(1)
						break
					}
					worst = max(worst, ms)
				}
				b = min(b, worst)
			}
			if !math.IsInf(b, 1) {
				best[i] = append(best[i], b)
			}
		}
	}
	for i := range out {
		sort.Float64s(best[i])
		out[i].slo = math.Ceil(replaySLOFactor * best[i][len(best[i])/2])
	}
	return out
}

// replayResult is what one replay measured.
type replayResult struct {
	violationMinutes int       // workload-slices with some user beyond the SLO
	rtts             []float64 // per workload, user and slice: ms to the nearest replica
	unplaced         int       // workload-slices with no replica running
	evictions        int
	flaps            int // evictions of a workload within its cooldown of the last
	byQuarter        [4]struct {
		violations, n int
		sum           float64
	}
	byWorkload map[string]int // violation minutes
	trace      io.Writer
	tracePath  string
	slice      int
	late       int // slices whose publishing and scoring overran the tick
	publishing time.Duration
	// pods is every pod seen running, by name: where its replacement went
	// is read from it after the run.
	pods map[string]seenPod
	// landed counts the evictions whose replacement ran on the node the
	// rebalancer expected, on another node of its site, or elsewhere.
	landed struct{ node, site, elsewhere, unknown int }
}

type seenPod struct {
	owner, node string
	created     time.Time
}

func (r *replayResult) mean() float64 {
	sum := 0.0
	for _, v := range r.rtts {
		sum += v
	}
	return sum / float64(max(1, len(r.rtts)))
}

func (r *replayResult) p90() float64 {
	s := slices.Clone(r.rtts)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)*9/10]
}

// BenchmarkRebalanceReplay replays the Seattle testbed's measured RTT,
// slice by slice, as the site NodeNetworks of 99 sites of 2 nodes, with
// the real scheduler placing 20 Deployments of 2 replicas; once without
// the rebalancer and once with it (the shipped policy, its minutes scaled
// to slices). bench/README, "Rebalancing", has the figures.
func BenchmarkRebalanceReplay(b *testing.B) {
	data := loadSeattle(b)
	n := data.slices
	if testing.Short() {
		n = 20
	}
	if *replaySlices > 0 {
		n = min(*replaySlices, data.slices)
	}
	plan := replayPlan(data, n)
	without, with := &replayResult{}, &replayResult{}
	for b.Loop() {
		if !*replayWith {
			without = replay(b, data, plan, n, false)
		}
		with = replay(b, data, plan, n, true)
	}
	runs := []struct {
		name string
		res  *replayResult
	}{{"without", without}, {"with", with}}
	if *replayWith {
		runs = runs[1:]
	}
	for _, r := range runs {
		b.ReportMetric(float64(r.res.violationMinutes), "violation-min-"+r.name)
		b.ReportMetric(r.res.mean(), "mean-ms-"+r.name)
		b.ReportMetric(r.res.p90(), "p90-ms-"+r.name)
	}
	b.ReportMetric(float64(with.evictions), "evictions")
	b.ReportMetric(float64(with.flaps), "flaps")
	fmt.Printf("replay: %d slices of %s (a slice is a minute), %d workloads of %d replicas, users drawn with seed %d, SLOs %v ms\n",
		n, *replayTick, replayWorkloads, replayReplicas, *replaySeed, slos(plan))
	for _, r := range runs {
		fmt.Printf("replay %s rebalancing: violation-minutes %d, mean %.1f ms, p90 %.1f ms, unplaced workload-minutes %d, slices over their tick %d (publishing a slice took %s on average); by quarter (violations, mean ms):",
			r.name, r.res.violationMinutes, r.res.mean(), r.res.p90(), r.res.unplaced, r.res.late, (r.res.publishing / time.Duration(max(1, n))).Round(time.Millisecond))
		for _, q := range r.res.byQuarter {
			fmt.Printf(" %d/%.1f", q.violations, q.sum/float64(max(1, q.n)))
		}
		fmt.Printf("; by workload:")
		for _, w := range plan {
			fmt.Printf(" %d", r.res.byWorkload[w.name])
		}
		fmt.Println()
	}
	fmt.Printf("replay with rebalancing: replacements on the node the rebalancer expected %d, on another node of its site %d, elsewhere %d, not found %d\n",
		with.landed.node, with.landed.site, with.landed.elsewhere, with.landed.unknown)
	// Paired within the run: the runs with and without rebalancing start
	// from different first placements (TestReplayAgainstItsFirstPlacement).
	actual, kept := againstFirstPlacement(data, plan, readPlacements(b, with.tracePath))
	fmt.Printf("replay with rebalancing, against its own first placement kept: violation-minutes %d -> %d (%+.1f%%)\n",
		kept, actual, 100*float64(actual-kept)/float64(max(1, kept)))
	if *replayWith {
		fmt.Printf("rebalance (with only): violation-minutes %d, mean RTT %.1f ms, evictions %d, flaps %d\n",
			with.violationMinutes, with.mean(), with.evictions, with.flaps)
		return
	}
	fmt.Printf("rebalance: violation-minutes %d -> %d, mean RTT %.1f -> %.1f ms, evictions %d, flaps %d\n",
		without.violationMinutes, with.violationMinutes, without.mean(), with.mean(), with.evictions, with.flaps)
}

func slos(plan []replayWorkload) []float64 {
	var out []float64
	for _, w := range plan {
		out = append(out, w.slo)
	}
	return out
}

func host(h int) string { return fmt.Sprintf("h%02d", h) }
func site(h int) string { return fmt.Sprintf("s%02d", h) }

// scaledSchedulerConfig is the shipped scheduler configuration with
// NetworkLatency's measurementTTL set to ttl.
func scaledSchedulerConfig(tb testing.TB, ttl time.Duration) []byte {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, yaml.Unmarshal(manifests.SchedulerConfig(), &doc))
	for _, p := range doc["profiles"].([]any) {
		for _, pc := range p.(map[string]any)["pluginConfig"].([]any) {
			if pc := pc.(map[string]any); pc["name"] == "NetworkLatency" {
				pc["args"].(map[string]any)["measurementTTL"] = ttl.String()
			}
		}
	}
	out, err := yaml.Marshal(doc)
	require.NoError(tb, err)
	return out
}

// replay runs one replay on a control plane of its own.
func replay(b *testing.B, data *seattle, plan []replayWorkload, nSlices int, rebalance bool) *replayResult {
	tick := *replayTick
	minutes := func(m int) time.Duration { return time.Duration(m) * tick }
	ctx := b.Context()
	e, err := startEnvWith(ctx, controlplane.Options{Controllers: true}, scaledSchedulerConfig(b, minutes(5)))
	require.NoError(b, err)
	defer e.stop()
	f := newFixture(b, e)

	for h := range data.hosts {
		f.landmark(host(h))
	}
	objects := make([]*v1alpha1.NodeNetwork, data.hosts) // each site's, as last written
	for h := range data.hosts {
		for k := range 2 {
			f.node(fmt.Sprintf("%s-%d", site(h), k), 1, map[string]string{v1alpha1.SiteLabel: site(h)})
		}
		objects[h], err = e.edge.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "site-" + site(h), Labels: f.testLabel()},
			Spec:       v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: site(h)},
		}, metav1.CreateOptions{})
		require.NoError(b, err)
	}
	tr := newTruth(data)
	windows := newProbeWindows(data.hosts)
	publish := func(t int) {
		tr.advance(t)
		windows.add(tr, data, t, time.Now())
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for src := range data.hosts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				nn := objects[src].DeepCopy()
				nn.Status.Landmarks = windows.status(src)
				if written, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().UpdateStatus(ctx, nn, metav1.UpdateOptions{}); err == nil {
					objects[src] = written
				}
			}()
		}
		wg.Wait()
	}
	publish(0)
	f.syncMeasurements()
	f.cordonBarrier()
	f.kubelet()

	for _, w := range plan {
		var names []string
		for _, h := range w.hosts {
			names = append(names, host(h))
		}
		annotations := demand(strings.Join(names, ","), fmt.Sprintf("%gms", w.slo))
		labels := map[string]string{"app": w.name}
		template := newPod(f.ns, "", annotations, 600)
		_, err := e.kube.AppsV1().Deployments(f.ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(int32(replayReplicas)),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Spec: template.Spec},
			},
		}, metav1.CreateOptions{})
		require.NoError(b, err)
	}
	// Every replica the first slice admits is placed before the clock
	// starts; a replica no node admits stays pending and counts as unplaced.
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := e.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == v1.PodRunning {
				running++
			}
		}
		return running == replayWorkloads*replayReplicas, nil
	})
	if rebalance {
		args := policyArgs{
			"measurementTTL": minutes(5).String(), "sloGracePeriod": minutes(5).String(),
			"gapGracePeriod": minutes(15).String(), "cooldown": minutes(30).String(),
			"historyWindow": minutes(60).String(),
			// 6 a minute, a minute being a slice.
			"maxEvictionsPerMinute": 6 * int(time.Minute/tick),
		}
		if *replayPlaceOnTarget {
			args["placeReplacementOnTarget"] = true
			grantReplacementNode(b, e)
		}
		f.startDescheduler(args, "--descheduling-interval="+minutes(1).String())
	}

	res := &replayResult{}
	// Where every workload's replicas ran, slice by slice, for a look
	// after the run.
	trace, err := os.Create(filepath.Join(e.logs, "placements.tsv"))
	require.NoError(b, err)
	defer trace.Close()
	b.Logf("placements: %s", trace.Name())
	res.trace, res.tracePath = trace, trace.Name()
	clock := time.NewTicker(tick)
	defer clock.Stop()
	for t := range nSlices {
		start := time.Now()
		if t > 0 {
			publish(t)
		}
		res.publishing += time.Since(start)
		res.sample(ctx, b, e, f.ns, plan, tr, t*4/nSlices)
		if time.Since(start) > tick {
			res.late++ // the slice took longer than its tick: the scaling does not hold for it
		}
		<-clock.C // the replay's clock: one slice per tick
	}
	res.countEvictions(b, f, minutes(30))
	return res
}

// sample scores the placements at the end of a slice against its truth.
func (r *replayResult) sample(ctx context.Context, b *testing.B, e *env, ns string, plan []replayWorkload, tr *truth, quarter int) {
	pods, err := e.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(b, err)
	sites := map[string][]int{}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase != v1.PodRunning {
			continue
		}
		var h int
		if _, err := fmt.Sscanf(p.Spec.NodeName, "s%02d-", &h); err == nil {
			sites[p.Labels["app"]] = append(sites[p.Labels["app"]], h)
		}
		if r.pods == nil {
			r.pods = map[string]seenPod{}
		}
		if ref := metav1.GetControllerOf(&p); ref != nil {
			r.pods[p.Name] = seenPod{owner: ref.Name, node: p.Spec.NodeName, created: p.CreationTimestamp.Time}
		}
	}
	q := &r.byQuarter[min(quarter, 3)]
	defer func() { r.slice++ }()
	for _, w := range plan {
		replicas := sites[w.name]
		if r.trace != nil {
			fmt.Fprintf(r.trace, "%d\t%s\t%v\n", r.slice, w.name, replicas)
		}
		if len(replicas) == 0 {
			r.unplaced++
			r.violationMinutes++
			q.violations++
			continue
		}
		violated := false
		for _, h := range w.hosts {
			nearest := math.Inf(1)
			for _, s := range replicas {
				if ms, ok := tr.rtt(s, h); ok {
					nearest = min(nearest, ms)
				}
			}
			if math.IsInf(nearest, 1) {
				continue // no measurement of this pair yet: not scored
			}
			r.rtts = append(r.rtts, nearest)
			q.sum += nearest
			q.n++
			violated = violated || nearest > w.slo
		}
		if violated {
			r.violationMinutes++
			q.violations++
			if r.byWorkload == nil {
				r.byWorkload = map[string]int{}
			}
			r.byWorkload[w.name]++
		}
	}
}

// countEvictions reads the rebalancer's eviction events: how many, and how
// many came within a cooldown of the workload's previous one.
func (r *replayResult) countEvictions(b *testing.B, f *fixture, cooldown time.Duration) {
	byWorkload := map[string][]time.Time{}
	for _, e := range f.rebalanceEvents(v1alpha1.RebalanceEvicted) {
		r.evictions++
		if e.Related != nil {
			byWorkload[e.Related.Name] = append(byWorkload[e.Related.Name], e.EventTime.Time)
			r.landedOn(e.Related.Name, expectedNode.FindStringSubmatch(e.Note), e.EventTime.Time)
		}
	}
	for _, times := range byWorkload {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(times); i++ {
			if times[i].Sub(times[i-1]) < cooldown {
				r.flaps++
			}
		}
	}
	b.Logf("evictions by ReplicaSet: %v", byWorkload)
}

// expectedNode reads the node an eviction event expects the pod on.
var expectedNode = regexp.MustCompile(`expected \S+ on node (\S+)$`)

// landedOn finds the replacement of a pod of the ReplicaSet evicted at
// evicted (the first replica created from a second before it on: pods
// carry whole seconds) and counts where it ran against where the
// rebalancer expected it.
func (r *replayResult) landedOn(owner string, expected []string, evicted time.Time) {
	var next *seenPod
	for _, p := range r.pods {
		// A second of slack: the event is written after the eviction
		// returns, and the replacement may be created before it.
		if p.owner == owner && !p.created.Before(evicted.Truncate(time.Second).Add(-time.Second)) && (next == nil || p.created.Before(next.created)) {
			next = &p
		}
	}
	switch {
	case next == nil || len(expected) < 2:
		r.landed.unknown++
	case next.node == expected[1]:
		r.landed.node++
	case strings.SplitN(next.node, "-", 2)[0] == strings.SplitN(expected[1], "-", 2)[0]:
		r.landed.site++
	default:
		r.landed.elsewhere++
	}
}
