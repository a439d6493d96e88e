// Package rebalance is EdgeplaceRebalance, a plugin for the descheduler's
// framework (sigs.k8s.io/descheduler), compiled into
// cmd/edgeplace-descheduler. It evicts the running pods of
// edgeplace-scheduler whose placement has gone bad, so that their
// controllers recreate them and the scheduler places the replacements. It
// reads the same network map (pkg/feed), resolves the pod's intent the same
// way and judges it with the same placement core (pkg/placement) as the
// scheduler; when to move, and the hysteresis, are pkg/rebalance.
//
// # Extension point
//
//   - Deschedule (rebalance.go, pass.go): one pass over the running pods
//     with a network intent, every --descheduling-interval. Nothing is
//     judged while the map or the plugin's informers load.
//
// # When a pod is bad (pkg/rebalance.Rules), on fresh measurements only
//
//   - its hard bounds (max-rtt, max-loss, max-jitter, depends-on-max-rtt)
//     violated for sloGracePeriod; or
//   - its demand-weighted RTT behind the best node that meets its bounds
//     by more than max(minGap, minGapPercent%) for gapGracePeriod.
//
// A replica of a workload is judged on the users it serves: the demand
// landmarks to which no other replica is nearer (replica coverage spreads
// them so). A replica that serves no one is judged on the whole demand.
//
// Known limits: grace periods and the history live in the leader's
// memory, so a new leader (or a restart) starts them afresh (with no
// history, nothing moves for a grace period). Cooldowns are read back from
// the Evicted events of the last cooldown before the first pass
// (moves.go), so they hold across a leader change for as long as the API
// server keeps events. A pass counts a pod bad since the first pass that found it
// so, however long the descheduler went without a pass in between (it
// skips cycles while it sees at most one ready node). The free-node check holds the pod's required anti-affinity
// across the topology domain, in the pod's namespace or the term's listed
// ones (not namespaceSelector), and not other pods' anti-affinity towards
// it: the scheduler may still place the replacement elsewhere.
//
// # Safety, in order (each skip is an EdgeplaceRebalance Warning event
// once per reason, and edgeplace_rebalance_skips_total{reason})
//
//   - not-replicated: only ReplicaSet and StatefulSet pods;
//   - few-replicas: the workload wants at least minReplicas;
//   - unready-replica: every replica ready, none terminating (so one at a
//     time per workload);
//   - cooldown: the workload moved no pod in the last cooldown;
//   - no-free-node: a node that fits the pod now (NodeFit) and is ahead by
//     the gap;
//   - not-borne-out: the history (pkg/rebalance.History, the last
//     historyWindow of passes) must show that node better than the pod's
//     own on the pod's landmarks, by historyMarginPercent% of the passes
//     over the SLO (SLO rule) or by the gap (gap rule), and the workload's
//     users as a whole no worse off. On a network that jitters, the last
//     window alone picks a target as likely worse as better;
//   - evictor-filter: the profile's evictor (DefaultEvictor) agrees;
//   - rate-limit: at most maxEvictionsPerMinute evictions, across the
//     cluster, in any 60 s;
//   - eviction-refused: the Eviction API refused (a PodDisruptionBudget).
//
// # Args (EdgeplaceRebalanceArgs; defaults in defaults.go)
//
// schedulerName (edgeplace-scheduler), measurementTTL (5m, as the
// scheduler's), judgePercentile (p50), sloGracePeriod (5m),
// gapGracePeriod (15m), minGap (5ms), minGapPercent (30), historyWindow
// (1h), historyMarginPercent (10), cooldown (30m),
// minReplicas (2), maxEvictionsPerMinute (6), placeReplacementOnTarget
// (false: the scheduler places the replacement on its own view; true: on
// the node the rebalancer expected, if it still takes it).
//
// # Events (reason v1alpha1.RebalanceReason, related to the workload)
//
// Evicted, or WouldEvict under --dry-run, naming the pod's RTT, why, for
// how long, and the expected RTT and node; Skipped with the safety reason.
//
// # Metrics (on the descheduler's /metrics)
//
//   - edgeplace_rebalance_bad_pods{rule}: pods the last pass found bad;
//   - edgeplace_rebalance_candidates_total{rule}: bad for the grace period;
//   - edgeplace_rebalance_evictions_total{rule,dry_run};
//   - edgeplace_rebalance_skips_total{reason}.
package rebalance
