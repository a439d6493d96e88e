package cyclestate

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

type state struct{ n int }

func TestSlot(t *testing.T) {
	slot := New[*state]("test")
	a, b := framework.NewCycleState(), framework.NewCycleState()

	_, ok := slot.Read(a)
	assert.False(t, ok, "nothing written")
	st := slot.Missing()
	assert.ErrorIs(t, st.AsError(), fwk.ErrNotFound)
	assert.Contains(t, st.Message(), `"test"`, "names the key")

	sa, sb := &state{1}, &state{2}
	slot.Write(a, sa)
	slot.Write(b, sb)
	got, ok := slot.Read(b)
	assert.True(t, ok)
	assert.Same(t, sb, got, "the cycle written last")
	got, ok = slot.Read(a)
	assert.True(t, ok)
	assert.Same(t, sa, got, "an earlier cycle, from its own cycle state")
	got, ok = slot.Read(a.Clone())
	assert.True(t, ok)
	assert.Same(t, sa, got, "a copy of a cycle state holds the same state")

	other := framework.NewCycleState()
	other.Write("test", stringState("not ours"))
	_, ok = slot.Read(other)
	assert.False(t, ok, "a state of another type under the key")
}

type stringState string

func (s stringState) Clone() fwk.StateData { return s }

// TestSlotConcurrent reads from many goroutines while cycles are written,
// as parallel Filter calls do; run with -race.
func TestSlotConcurrent(t *testing.T) {
	slot := New[*state]("test")
	var wg sync.WaitGroup
	for i := range 50 {
		cs := framework.NewCycleState()
		s := &state{i}
		slot.Write(cs, s)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, ok := slot.Read(cs)
				if !ok || got != s {
					t.Errorf("cycle %d: read %v, %v", i, got, ok)
				}
			}()
		}
	}
	wg.Wait()
}
