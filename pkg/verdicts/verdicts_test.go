package verdicts

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

func TestTally(t *testing.T) {
	cs := framework.NewCycleState()
	Reject(cs, "Locality", "no tally yet") // before Ensure: ignored
	assert.Empty(t, Summary(cs))

	Ensure(cs)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if i%4 == 0 {
				Reject(cs, "BandwidthCost", "egress full")
			} else {
				Reject(cs, "Locality", "forbidden carrier")
			}
		})
	}
	wg.Wait()
	Ensure(cs) // a second plugin's PreFilter keeps the tally
	assert.Equal(t, "Locality rejected 75 (forbidden carrier), BandwidthCost rejected 25 (egress full)", Summary(cs))

	clone := cs.Clone()
	assert.Empty(t, Summary(clone), "what-if cycles count on their own")
	assert.NotEmpty(t, Summary(cs))
}

// Reject is on the Filter path of every rejected node: it must not allocate
// once a reason has been seen.
func TestRejectDoesNotAllocate(t *testing.T) {
	cs := framework.NewCycleState()
	Ensure(cs)
	Reject(cs, "Locality", "forbidden carrier")
	allocs := testing.AllocsPerRun(100, func() { Reject(cs, "Locality", "forbidden carrier") })
	assert.Zero(t, allocs)
}
