// Package networklatency is the NetworkLatency scheduler plugin: it keeps a
// pod within its RTT SLO of the user populations (landmarks) it serves and
// prefers the nodes with the lowest demand-weighted measured RTT.
//
// What a pod asks (edgeplace.io/demand, max-rtt, rtt-percentile,
// estimates, depends-on, or a LatencyProfile) is resolved on one pinned
// view of the network map by pkg/placement, which explain asks too.
//
// # Extension points
//
//   - PreFilter (prefilter.go): resolves the intent, rejects the pod when
//     no node meets its SLO (naming the landmark and the best RTT on
//     offer), works out every row's weighted RTT, and returns the nodes the
//     pod is evaluated on: the nearest that can win (pkg/candidates).
//   - Filter, PreScore, Score, NormalizeScore (score.go, the hot path):
//     the SLO and the dependency's bound per node; the score is the
//     weighted RTT, mapped onto 0..100 over a window behind the best.
//   - PostFilter (postfilter.go): when every candidate was turned down,
//     the next attempt evaluates more nodes, or every node.
//   - Reserve (enqueue.go): records the decision as an event (decision.go).
//   - EnqueueExtensions (enqueue.go): queueing hints for nodes,
//     NodeNetworks, Landmarks, LatencyProfiles and pods.
//   - SignPlugin: refuses batching for pods with a network intent.
//
// # Args (NetworkLatencyArgs, pkg/apis/config)
//
//   - measurementTTL (5m): an older measurement counts as missing.
//   - defaultPercentile (p90), defaultDemandWeight (1), maxDemandLandmarks
//     (64): how pods' annotations are read.
//   - scoreWindowMin (2ms), scoreWindowPercent (15): the score window.
//   - recordDecisions (true): the EdgeplaceDecision event.
//   - minCandidates (100): how many nodes that can take the pod PreFilter
//     keeps at least; 0 evaluates every node.
//
// # Reasons
//
// Filter's, categorical so that the framework groups them:
// ReasonNoMeasurement, ReasonOverSLO, ReasonOverLoss, ReasonOverJitter,
// ReasonOverDepSLO. Score ranks by the effective RTT, the RTT penalised by
// its measured loss (netmap.LossPenalty); SLOs hold the RTT. Filter and Score
// need PreFilter's state, as the in-tree plugins do: a profile enables
// the three together (multiPoint does). PreFilter's:
// v1alpha1.ReasonLoading while the map syncs, a missing landmark, or no
// node within the SLO. Events: v1alpha1.DecisionReason on each placed pod.
//
// # Metrics (on the scheduler's /metrics)
//
//   - edgeplace_chosen_node_rtt_seconds: the weighted RTT of each decision.
//   - edgeplace_slo_rejections_total{landmark}: scheduling attempts refused
//     because no node met the SLO, by the landmark no node was near enough.
//   - edgeplace_estimated_decisions_total{source}: decisions that relied on
//     an estimate.
//   - edgeplace_network_map_entries{state}: the map's entries by state.
package networklatency
