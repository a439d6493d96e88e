// Package verdicts lets edgeplace's plugins count, within one scheduling
// cycle, the nodes each of them rejected and why, so that the decision
// NetworkLatency records can say it: plugins do not see each other's
// Filter results. The tally lives in the cycle state.
package verdicts

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	fwk "k8s.io/kube-scheduler/framework"
)

const key fwk.StateKey = "edgeplace.io/verdicts"

// Tally counts rejections by plugin and reason. Few distinct reasons and
// many parallel rejections: a read-locked map lookup (no allocation, unlike
// boxing a key for sync.Map) and an atomic add each.
type Tally struct {
	mu     sync.RWMutex
	counts map[[2]string]*atomic.Int64
}

// Clone gives preemption's what-if cycles a tally of their own, so that
// their rejections are not counted as the real cycle's.
func (t *Tally) Clone() fwk.StateData { return &Tally{} }

// Ensure puts a tally in the cycle state if it has none. Call it from
// PreFilter, which runs one plugin at a time.
func Ensure(cs fwk.CycleState) {
	if _, err := cs.Read(key); err != nil {
		cs.Write(key, &Tally{})
	}
}

// Reject counts one node a plugin rejected for a reason.
func Reject(cs fwk.CycleState, plugin, reason string) {
	data, err := cs.Read(key)
	if err != nil {
		return
	}
	t, ok := data.(*Tally)
	if !ok {
		return
	}
	k := [2]string{plugin, reason}
	t.mu.RLock()
	n := t.counts[k]
	t.mu.RUnlock()
	if n == nil {
		t.mu.Lock()
		if n = t.counts[k]; n == nil {
			if t.counts == nil {
				t.counts = map[[2]string]*atomic.Int64{}
			}
			n = new(atomic.Int64)
			t.counts[k] = n
		}
		t.mu.Unlock()
	}
	n.Add(1)
}

// Summary describes the rejections, most first: "Locality rejected 12
// (node(s) are on a forbidden carrier ...)"; "" when there were none.
func Summary(cs fwk.CycleState) string {
	data, err := cs.Read(key)
	if err != nil {
		return ""
	}
	t, ok := data.(*Tally)
	if !ok {
		return ""
	}
	type entry struct {
		plugin, reason string
		n              int64
	}
	var all []entry
	t.mu.RLock()
	for k, n := range t.counts {
		all = append(all, entry{k[0], k[1], n.Load()})
	}
	t.mu.RUnlock()
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.plugin, b.plugin), cmp.Compare(a.reason, b.reason))
	})
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s rejected %d (%s)", e.plugin, e.n, e.reason)
	}
	return strings.Join(parts, ", ")
}
