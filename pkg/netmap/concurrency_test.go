package netmap

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReadersDuringUpdates reads pinned snapshots from several goroutines
// while another publishes new ones. Run with -race: a snapshot shared with a
// reader must never be written.
func TestReadersDuringUpdates(t *testing.T) {
	m := New()
	m.SetLandmark("hz")
	m.SetLandmark("sh")
	for i := range 500 {
		name := fmt.Sprintf("n%d", i)
		m.SetNode(name, site(fmt.Sprintf("s%d", i%20)))
		m.SetNodeNetwork(measured(name, now, map[string]int64{"hz": int64(1000 + i), "sh": int64(9000 - i)}))
	}
	m.Flush()

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v := m.Current().View(now, ttl)
				hz, _ := v.Landmark("hz")
				// Within one pinned view, the index and the table agree.
				for node := range v.NodesWithin([]int32{hz}, P50, 5_000, 0).Names() {
					row, ok := v.Row(node)
					if !ok {
						t.Errorf("reader %d: node %s from the index has no row", r, node)
						return
					}
					if rtt, fresh := v.RTT(row, hz, P50); !fresh || rtt > 5_000 {
						t.Errorf("reader %d: node %s has rtt %d fresh %v", r, node, rtt, fresh)
						return
					}
				}
				reads.Add(1)
			}
		}()
	}
	for round := range 200 {
		for i := round % 7; i < 500; i += 7 {
			name := fmt.Sprintf("n%d", i)
			m.SetNodeNetwork(measured(name, now, map[string]int64{"hz": int64((i*31 + round*977) % 10_000), "sh": 5000}))
		}
		if round%10 == 0 {
			m.SetNodeNetwork(siteMeasured("site", fmt.Sprintf("s%d", round%20), now, map[string]int64{"hz": 100}))
			m.DeleteNode(fmt.Sprintf("n%d", round))
		}
		m.Flush()
	}
	stop.Store(true)
	wg.Wait()
	assert.Positive(t, reads.Load())
}
