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
// many parallel rejections: a lock-free lookup and an atomic add each.
type Tally struct {
	counts sync.Map // [2]string{plugin, reason} -> *atomic.Int64
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
	n, ok := t.counts.Load(k)
	if !ok {
		n, _ = t.counts.LoadOrStore(k, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
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
	t.counts.Range(func(k, n any) bool {
		key := k.([2]string)
		all = append(all, entry{key[0], key[1], n.(*atomic.Int64).Load()})
		return true
	})
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.plugin, b.plugin), cmp.Compare(a.reason, b.reason))
	})
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s rejected %d (%s)", e.plugin, e.n, e.reason)
	}
	return strings.Join(parts, ", ")
}
