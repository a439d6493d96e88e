package rebalance

import "github.com/edgeplace/edgeplace/pkg/placement"

// Served returns, per demand landmark of req, whether the replica on row
// serves it: no other replica of its workload (on siblings, their rows) is
// nearer to it by fresh measurement. Replica coverage places the replicas
// of a workload so that each serves its share of the demand, on the stated
// assumption that users reach their nearest replica; judged on its whole
// demand, every replica of a spread workload would look behind the one
// placed in the middle. The second result counts the landmarks served.
func Served(req *placement.Request, row int32, siblings []int32) ([]bool, int) {
	demand := req.Demand()
	out := make([]bool, len(demand))
	n := 0
	for i, lm := range demand {
		own, ok := req.View.EffectiveRTT(row, lm, req.Percentile, 0)
		if !ok {
			continue
		}
		out[i] = true
		for _, other := range siblings {
			if rtt, ok := req.View.EffectiveRTT(other, lm, req.Percentile, 0); ok && rtt < own {
				out[i] = false
				break
			}
		}
		if out[i] {
			n++
		}
	}
	return out, n
}
