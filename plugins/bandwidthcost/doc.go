// Package bandwidthcost is the BandwidthCost scheduler plugin. It keeps a
// node's egress within its capacity, for pods that state their egress in an
// annotation (pods that request the edgeplace.io/egress-mbps extended
// resource are held to it by NodeResourcesFit, preemption and the kubelet),
// and prefers the node whose billing zone charges least for the pod's
// egress under 95th-percentile billing (pkg/cost).
//
// # Extension points
//
//   - PreFilter: the pod's egress (edgeplace.io/egress, or the extended
//     resource) and cost ceiling (edgeplace.io/max-cost); each shortlisted
//     candidate's capacity and marginal cost, in one pass.
//   - Filter: the node's egress left, and the ceiling.
//   - PreScore, Score, NormalizeScore: the marginal monthly cost the pod
//     adds to the node's billing zone, cheapest highest.
//   - Reserve, Unreserve: the egress the pod takes from its zone.
//   - EnqueueExtensions: assigned pods leaving, nodes added or gaining
//     capacity or labels, edits of the pod's own annotations.
//   - SignPlugin: refuses batching for pods with egress (or a
//     LatencyProfile); the others keep it.
//
// # Args (BandwidthCostArgs, pkg/apis/config)
//
//   - zones: each billing zone's name, pricePerMbps and committedMbps.
//   - defaultPricePerMbps: zones not listed, and nodes without a zone.
//
// # Reasons
//
// ReasonEgress, ReasonCost.
//
// # Metrics
//
// None of its own; kube-scheduler's
// scheduler_plugin_execution_duration_seconds{plugin="BandwidthCost"} times
// it.
package bandwidthcost
