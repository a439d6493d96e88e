package cost

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
)

func TestMarginal(t *testing.T) {
	z := Zone{PricePerMbps: 2, CommittedMbps: 1000}
	tests := []struct {
		name       string
		used, mbps int64
		want       float64
	}{
		{"inside paid headroom", 500, 300, 0},
		{"fills headroom exactly", 700, 300, 0},
		{"crosses the commitment", 900, 300, 400},
		{"already above", 1500, 300, 600},
		{"nothing added", 1500, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, z.Marginal(tt.used, tt.mbps))
		})
	}
	assert.Equal(t, 600.0, Zone{PricePerMbps: 2}.Marginal(0, 300), "no commitment: everything is billed")
}

func TestLedgerIsIdempotent(t *testing.T) {
	l := NewLedger()
	l.Remove("never-reserved") // Unreserve without Reserve
	l.Set("a", "hz", 100)
	l.Set("a", "hz", 100) // the informer sees the binding after Reserve
	l.Set("b", "hz", 50)
	assert.EqualValues(t, 150, l.Used("hz"))
	l.Set("a", "sh", 100) // rebound elsewhere
	assert.EqualValues(t, 50, l.Used("hz"))
	assert.EqualValues(t, 100, l.Used("sh"))
	l.Remove("a")
	l.Remove("a")
	assert.EqualValues(t, 0, l.Used("sh"))
	l.Set("b", "hz", 0) // egress removed
	assert.EqualValues(t, 0, l.Used("hz"))
}

func TestLedgerConcurrentUse(t *testing.T) {
	l := NewLedger()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				uid := types.UID(string(rune('a'+w)) + string(rune(i)))
				l.Set(uid, "z", 1)
				if i%2 == 0 {
					l.Remove(uid)
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 8*500, l.Used("z"))
}
