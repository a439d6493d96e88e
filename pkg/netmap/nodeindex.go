package netmap

import (
	"hash/maphash"
	"math/bits"
)

// nodeIndex finds a node's row and location from its name on the scoring
// hot path.
//
// A Go map compares the looked-up name with the stored key, which touches a
// second cold string per lookup. nodeIndex keeps only a 64-bit hash and the
// row in one flat open-addressed table: one probe, no string comparison.
// Two names in the map with equal hashes are both marked ambiguous and
// looked up in the map instead; a name outside the map matches a stored hash
// with probability n/2^64 (about 5e-15 at 100,000 nodes).
type nodeIndex struct {
	seed  maphash.Seed
	slots []nodeSlot
	mask  uint64
	names map[string]NodeRef // the authority; never modified once published
}

// NodeRef is where a node's data is: its measurements' row (-1: none) and
// its location's ID.
type NodeRef struct {
	Row, Location int32
}

type nodeSlot struct {
	hash  uint64
	ref   NodeRef
	state uint8
}

const (
	slotEmpty uint8 = iota
	slotUnique
	slotAmbiguous
)

func newNodeIndex(seed maphash.Seed, names map[string]NodeRef) *nodeIndex {
	size := 1 << bits.Len(uint(len(names)+len(names)/2)) // load factor at most 2/3
	ix := &nodeIndex{seed: seed, slots: make([]nodeSlot, size), mask: uint64(size - 1), names: names}
	for name, ref := range names {
		h := maphash.String(seed, name)
		for i := h & ix.mask; ; i = (i + 1) & ix.mask {
			s := &ix.slots[i]
			if s.state == slotEmpty {
				*s = nodeSlot{hash: h, ref: ref, state: slotUnique}
				break
			}
			if s.hash == h {
				s.state = slotAmbiguous
				break
			}
		}
	}
	return ix
}

func (ix *nodeIndex) lookup(name string) (NodeRef, bool) {
	h := maphash.String(ix.seed, name)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := &ix.slots[i]
		switch {
		case s.state == slotEmpty:
			return NodeRef{}, false
		case s.hash != h:
			continue
		case s.state == slotUnique:
			return s.ref, true
		default:
			ref, ok := ix.names[name]
			return ref, ok
		}
	}
}
