// Package cost models edge bandwidth bills. Edge bandwidth is billed per
// zone (a site or a carrier region) on the month's 95th-percentile peak, with
// a committed floor paid whether used or not. Placing a pod that sends E Mbps
// in a zone that carries U Mbps raises the billed peak from max(C, U) to
// max(C, U+E): headroom already paid for costs nothing, the excess costs
// the zone's price per Mbps.
package cost

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Zone is a billing zone's price (per Mbps of billed peak per month) and
// committed bandwidth.
type Zone struct {
	PricePerMbps  float64
	CommittedMbps int64
}

// Marginal is the extra monthly cost of adding mbps to a zone that carries
// usedMbps.
func (z Zone) Marginal(usedMbps, mbps int64) float64 {
	before := max(0, usedMbps-z.CommittedMbps)
	after := max(0, usedMbps+mbps-z.CommittedMbps)
	return float64(after-before) * z.PricePerMbps
}

// Ledger keeps each zone's egress as the sum of its placed pods' egress.
// Entries are keyed by pod UID and written idempotently: the scheduler's
// Reserve and Unreserve (in any order, Unreserve possibly without Reserve)
// and the pod informer (bindings, deletions, a restart's initial list) all
// converge on the same totals. Safe for concurrent use.
type Ledger struct {
	mu    sync.Mutex
	pods  map[types.UID]usage
	zones map[string]int64
}

type usage struct {
	zone string
	mbps int64
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{pods: map[types.UID]usage{}, zones: map[string]int64{}}
}

// Set records that a pod sends mbps in a zone, replacing what was recorded
// for it before.
func (l *Ledger) Set(pod types.UID, zone string, mbps int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(pod)
	if mbps > 0 {
		l.pods[pod] = usage{zone, mbps}
		l.zones[zone] += mbps
	}
}

// Remove forgets a pod; forgetting an unknown pod does nothing.
func (l *Ledger) Remove(pod types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(pod)
}

func (l *Ledger) remove(pod types.UID) {
	if u, ok := l.pods[pod]; ok {
		delete(l.pods, pod)
		if l.zones[u.zone] -= u.mbps; l.zones[u.zone] <= 0 {
			delete(l.zones, u.zone)
		}
	}
}

// Used is a zone's total recorded egress.
func (l *Ledger) Used(zone string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.zones[zone]
}
