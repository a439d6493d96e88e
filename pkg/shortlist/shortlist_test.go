package shortlist

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

func TestList(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			b := NewBuilder(n)
			for i := range n {
				b.Add(fmt.Sprintf("node-%d", i), Entry{Row: int32(i), Location: int32(i % 5), RTT: int32(1000 * i)})
			}
			if n > 0 {
				b.Add("node-0", Entry{Row: 99}) // a second add of a name keeps the first
			}
			l := b.Build("snapshot")
			assert.Equal(t, "snapshot", l.Snapshot)
			slots := map[int]bool{}
			for i := range n {
				e, slot, ok := l.Find(fmt.Sprintf("node-%d", i))
				require.True(t, ok, "node-%d", i)
				assert.Equal(t, Entry{Row: int32(i), Location: int32(i % 5), RTT: int32(1000 * i)}, e)
				assert.Less(t, slot, l.Slots())
				assert.False(t, slots[slot], "slot %d given twice", slot)
				slots[slot] = true
			}
			_, ok := l.Get("node-absent")
			assert.False(t, ok)
			assert.Equal(t, n, l.Len())
			visited := map[int]Entry{}
			l.Each(func(slot int, e Entry) { visited[slot] = e })
			assert.Len(t, visited, n, "Each visits every listed node once")
			for slot := range slots {
				assert.Equal(t, int32(1000)*visited[slot].Row, visited[slot].RTT, "slot %d holds its own entry", slot)
			}
		})
	}
	var none *List
	_, ok := none.Get("node-0")
	assert.False(t, ok, "a cycle without a list finds nothing")
	none.Each(func(int, Entry) { t.Error("a nil list has no entries") })
}

func TestCycleState(t *testing.T) {
	cs := framework.NewCycleState()
	assert.Nil(t, Read(cs))
	l := NewBuilder(1).Build(nil)
	Write(cs, l)
	assert.Same(t, l, Read(cs))
	assert.Same(t, l, Read(cs.Clone()), "clones share the list")
}
