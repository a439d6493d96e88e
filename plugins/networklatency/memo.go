package networklatency

import (
	"cmp"
	"slices"
	"sync"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// memo remembers the last few results of a pure function of (snapshot,
// freshness cut-off, intent): a burst of pods with the same intent,
// scheduled within the same second against the same network map, share one
// computation. Results are never modified after they are stored. It holds
// size results (4 if unset).
type memo[V any] struct {
	mu      sync.Mutex
	size    int
	entries []memoEntry[V]
	next    int
}

type memoEntry[V any] struct {
	key   memoKey
	value V
}

type memoKey struct {
	view      netmap.View
	landmarks []int32
	weights   []int64
	pct       netmap.Percentile
	bound     int32
	accept    netmap.Source
}

func (k memoKey) equal(o memoKey) bool {
	return k.view.Snapshot != nil && k.view.Same(o.view) && k.pct == o.pct && k.bound == o.bound && k.accept == o.accept &&
		slices.Equal(k.landmarks, o.landmarks) && slices.Equal(k.weights, o.weights)
}

func (m *memo[V]) get(key memoKey, compute func() V) V {
	m.mu.Lock()
	for _, e := range m.entries {
		if e.key.equal(key) {
			m.mu.Unlock()
			return e.value
		}
	}
	m.mu.Unlock()
	value := compute()
	m.mu.Lock()
	if m.entries == nil {
		m.entries = make([]memoEntry[V], cmp.Or(m.size, 4))
	}
	m.entries[m.next] = memoEntry[V]{key: key, value: value}
	m.next = (m.next + 1) % len(m.entries)
	m.mu.Unlock()
	return value
}
