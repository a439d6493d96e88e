// Package locality is the Locality scheduler plugin: it keeps a pod on the
// carriers, provinces and node types it allows (Filter), and prefers nodes on
// the carrier of the users it serves (Score), since traffic that crosses
// carriers inside one country pays tens of milliseconds at interconnects.
// Node locations come from labels (pkg/topology).
//
// # Extension points
//
//   - PreFilter: reads the pod's location constraints (edgeplace.io/carriers,
//     forbidden-carriers, provinces, forbidden-provinces, node-types) and
//     the carriers of its demand landmarks, once per cycle.
//   - Filter: the constraints, against the node's location labels.
//   - PreScore, Score: the share of the pod's demand on the node's carrier
//     (0..100); skipped when no landmark's carrier is known.
//   - EnqueueExtensions: nodes added or relabelled, and edits of the pod's
//     own constraints.
//   - SignPlugin: signs the constraints and demand, so that equal pods
//     batch together.
//
// # Args
//
// None.
//
// # Reasons
//
// ReasonCarrier, ReasonForbiddenCarrier, ReasonProvince,
// ReasonForbiddenProv, ReasonNodeType.
//
// # Metrics
//
// None of its own; kube-scheduler's
// scheduler_plugin_execution_duration_seconds{plugin="Locality"} times it.
package locality
