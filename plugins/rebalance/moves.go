package rebalance

import (
	"context"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// recentMoves returns, by workload UID, when each workload last had a pod
// evicted by a rebalancer since the given time, read from the Evicted
// events the rebalancer leaves (related to the workload). A descheduler
// that has just started, or a standby that has just taken over, holds the
// cooldowns its predecessor started: without them a noisy network could
// move a second pod of a workload right after a leader change.
//
// Events are the record because they are already written for every move
// and read by kubectl edgeplace explain. They are best-effort: the
// recorder sends them in the background, so a move right before the
// process dies, or one whose event the API server refused, leaves no
// record. The API server keeps them for its --event-ttl (1h by default),
// so a cooldown longer than that is held only for the event TTL. A dry
// run's WouldEvict events are not moves.
func (c *cluster) recentMoves(ctx context.Context, since time.Time) (map[types.UID]time.Time, error) {
	moves := map[types.UID]time.Time{}
	opts := metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("reason", v1alpha1.RebalanceReason).String(),
		Limit:         500,
	}
	for {
		list, err := c.eventsAPI.Events(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			e := &list.Items[i]
			if e.Reason != v1alpha1.RebalanceReason || e.Action != v1alpha1.RebalanceEvicted || e.Related == nil || e.Related.UID == "" {
				continue
			}
			at := eventTime(e)
			if at.Before(since) {
				continue
			}
			if at.After(moves[e.Related.UID]) {
				moves[e.Related.UID] = at
			}
		}
		if list.Continue == "" {
			return moves, nil
		}
		opts.Continue = list.Continue
	}
}

// eventTime is when the event happened: the last of a series, or its
// event time, or (for events another writer made) when it was created.
func eventTime(e *eventsv1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
