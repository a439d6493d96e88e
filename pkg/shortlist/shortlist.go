// Package shortlist holds, for one scheduling cycle, the nodes a pod is
// evaluated on: NetworkLatency picks them in PreFilter (the nearest nodes by
// the pod's demand-weighted RTT) and writes them to the cycle state, and
// every edgeplace plugin's Filter and Score reads a node's row, location and
// RTT from it instead of from the network map's cluster-wide index.
//
// The cluster-wide index is megabytes at 100,000 nodes, so each lookup in it
// is a cache miss. A shortlist holds a few hundred nodes in one flat table
// that stays in cache for the whole cycle.
package shortlist

import (
	"hash/maphash"
	"math/bits"

	fwk "k8s.io/kube-scheduler/framework"
)

const key fwk.StateKey = "edgeplace.io/shortlist"

// Entry is what a shortlist knows of a node, as of the network map snapshot
// it was made from.
type Entry struct {
	Row      int32 // the node's row in the snapshot
	Location int32 // the node's location ID in the snapshot; -1 unknown
	RTT      int32 // the pod's demand-weighted RTT there, microseconds; -1 unknown
}

// List is an immutable set of nodes with their entries, keyed by a 64-bit
// hash of the node name: one probe and no string comparison per lookup.
// Two listed names with equal hashes are both marked ambiguous and reported
// as absent, so callers fall back to the network map; an unlisted name
// matches a listed hash with probability n/2^64.
type List struct {
	// Snapshot identifies the network map snapshot the entries' rows and
	// locations belong to; a reader pinned to another snapshot must not use
	// them.
	Snapshot any
	slots    []slot
	order    []int32 // slots in the order their nodes were added
	mask     uint64
	n        int
}

type slot struct {
	hash  uint64
	entry Entry
	state uint8
}

const (
	slotEmpty uint8 = iota
	slotUnique
	slotAmbiguous
)

var seed = maphash.MakeSeed()

// Builder collects a list's nodes.
type Builder struct {
	names   []string
	entries []Entry
}

// NewBuilder returns a builder with room for n nodes.
func NewBuilder(n int) *Builder {
	return &Builder{names: make([]string, 0, n), entries: make([]Entry, 0, n)}
}

// Add lists a node; adding a name twice keeps the first entry.
func (b *Builder) Add(name string, e Entry) {
	b.names = append(b.names, name)
	b.entries = append(b.entries, e)
}

// Build returns the list of the added nodes, made from snapshot.
func (b *Builder) Build(snapshot any) *List {
	size := 1 << bits.Len(uint(len(b.names)+len(b.names)/2)) // load factor at most 2/3
	l := &List{Snapshot: snapshot, slots: make([]slot, size), order: make([]int32, 0, len(b.names)), mask: uint64(size - 1)}
	owner := make([]int32, size) // which added name holds each slot
	for i, name := range b.names {
		h := maphash.String(seed, name)
		for j := h & l.mask; ; j = (j + 1) & l.mask {
			s := &l.slots[j]
			if s.state == slotEmpty {
				*s = slot{hash: h, entry: b.entries[i], state: slotUnique}
				owner[j] = int32(i)
				l.order = append(l.order, int32(j))
				l.n++
				break
			}
			if s.hash == h {
				if b.names[owner[j]] != name {
					s.state = slotAmbiguous
				}
				break
			}
		}
	}
	return l
}

// Len is the number of distinct hashes listed.
func (l *List) Len() int { return l.n }

// Get returns a listed node's entry.
func (l *List) Get(name string) (Entry, bool) {
	e, _, ok := l.Find(name)
	return e, ok
}

// Find returns a listed node's entry and its slot, a number below Slots
// that no other listed node has: a plugin may keep per-node results of the
// cycle in a slice indexed by it.
func (l *List) Find(name string) (Entry, int, bool) {
	if l == nil || len(l.slots) == 0 {
		return Entry{}, 0, false
	}
	h := maphash.String(seed, name)
	for i := h & l.mask; ; i = (i + 1) & l.mask {
		s := &l.slots[i]
		switch {
		case s.state == slotEmpty:
			return Entry{}, 0, false
		case s.hash != h:
			continue
		case s.state == slotUnique:
			return s.entry, int(i), true
		default:
			return Entry{}, 0, false
		}
	}
}

// Each calls f with every node's slot and entry that Find would return,
// in the order the nodes were added: a plugin can work out its per-node
// facts for the cycle in one pass, in the order the list's maker walked
// the map, rather than node by node in the framework's order.
func (l *List) Each(f func(slot int, e Entry)) {
	if l == nil {
		return
	}
	for _, i := range l.order {
		if l.slots[i].state == slotUnique {
			f(int(i), l.slots[i].entry)
		}
	}
}

// Slots bounds the slots Find returns.
func (l *List) Slots() int {
	if l == nil {
		return 0
	}
	return len(l.slots)
}

type state struct{ list *List }

// Clone shares the list: it is never written after PreFilter.
func (s state) Clone() fwk.StateData { return s }

// Write puts a pod's shortlist in its cycle state.
func Write(cs fwk.CycleState, l *List) { cs.Write(key, state{l}) }

// Read returns the cycle's shortlist, or nil when no plugin made one.
func Read(cs fwk.CycleState) *List {
	data, err := cs.Read(key)
	if err != nil {
		return nil
	}
	s, _ := data.(state)
	return s.list
}
