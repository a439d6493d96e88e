package probe

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// FieldManager owns the status entries a probe applies.
const FieldManager = "edgeplace-probe"

// Target is the NodeNetwork a publisher writes: its node's own object, or,
// with Site set, the site-level object that speaks for every node carrying
// that site label.
type Target struct {
	Node string
	Site string
	// EgressMbps and BillingZone, when set, override what the Node says
	// (its edgeplace.io/egress-mbps capacity and its
	// edgeplace.io/billing-zone label).
	EgressMbps  *int64
	BillingZone string
}

// ObjectName is the NodeNetwork's name: the node's, or "site-<site>".
func (t Target) ObjectName() (string, error) {
	if t.Site == "" {
		return t.Node, nil
	}
	name := v1alpha1.SiteObjectName(t.Site)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("site %q cannot name a NodeNetwork: %s", t.Site, strings.Join(errs, "; "))
	}
	return name, nil
}

// Publisher writes an agent's summaries to one NodeNetwork under a
// WritePolicy.
type Publisher struct {
	agent  *Agent
	target Target
	state  writeState

	// Read from the Node when the object is first ensured.
	ensured     bool
	egressMbps  *int64
	billingZone string

	written    chan struct{}
	firstWrite func()
	// measured is the agent's signal of measurements taken on request,
	// taken when the publisher is made, so that none is missed.
	measured <-chan struct{}
}

// NewPublisher returns a publisher of the agent's summaries, through the
// agent's API.
func NewPublisher(agent *Agent, target Target, policy WritePolicy) *Publisher {
	written := make(chan struct{})
	return &Publisher{agent: agent, target: target, state: writeState{policy: policy},
		written: written, firstWrite: sync.OnceFunc(func() { close(written) }), measured: agent.measuredNow()}
}

// Run considers a write after every probe interval, and at once when the
// agent has measured what the scheduler asked for (Agent.MeasureNow),
// until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	clk := p.agent.cfg.Clock
	ticker := clk.NewTicker(p.agent.cfg.ProbeInterval)
	defer ticker.Stop()
	for {
		requested := false
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		case <-p.measured:
			p.measured = p.agent.measuredNow()
			requested = true
		}
		p.step(ctx, clk.Now(), requested)
	}
}

// Step applies the policy once at now and writes if it says so.
func (p *Publisher) Step(ctx context.Context, now time.Time) Decision {
	return p.step(ctx, now, false)
}

func (p *Publisher) step(ctx context.Context, now time.Time, requested bool) Decision {
	summary := p.agent.Summary(now)
	d := p.state.decide(now, summary, requested)
	if !d.Write {
		writeSkips.Inc(d.Reason)
		return d
	}
	if err := p.write(ctx, summary, now); err != nil {
		wait := p.state.failed(now)
		writes.Inc("error")
		klog.ErrorS(err, "Writing measurements failed; backing off", "retryIn", wait)
		return Decision{false, "error"}
	}
	p.state.succeeded(now, summary)
	p.firstWrite()
	writes.Inc(d.Reason)
	klog.V(2).InfoS("Wrote measurements", "reason", d.Reason, "landmarks", len(summary))
	return d
}

// Written returns a channel that is closed once the publisher has written
// its object.
func (p *Publisher) Written() <-chan struct{} { return p.written }

func (p *Publisher) write(ctx context.Context, summary Summary, now time.Time) error {
	name, err := p.target.ObjectName()
	if err != nil {
		return err
	}
	if !p.ensured {
		if err := p.ensure(ctx, name); err != nil {
			return err
		}
	}
	status := &v1alpha1.NodeNetworkStatus{EgressCapacityMbps: p.egressMbps, BillingZone: p.billingZone}
	for _, lm := range slices.Sorted(maps.Keys(summary)) {
		st := summary[lm]
		status.Landmarks = append(status.Landmarks, v1alpha1.LandmarkRTT{
			Landmark:            lm,
			RTTP50Microseconds:  clampMicros(st.P50),
			RTTP90Microseconds:  clampMicros(st.P90),
			JitterMicroseconds:  clampMicros(st.Jitter),
			LossPartsPerMillion: st.LossPPM,
			Samples:             int32(min(st.Answered, 1_000_000)),
			ObservedTime:        metav1.NewTime(now),
		})
	}
	err = p.agent.api.ApplyNodeNetworkStatus(ctx, name, status, FieldManager)
	if apierrors.IsNotFound(err) {
		p.ensured = false // deleted under us: create it again next time
	}
	return err
}

// ensure creates the NodeNetwork if it is absent: a node's object with an
// owner reference to its Node, so that it goes with the Node; a site's
// object with its scope and site.
func (p *Publisher) ensure(ctx context.Context, name string) error {
	node, err := p.agent.api.GetNode(ctx, p.target.Node)
	if err != nil {
		return fmt.Errorf("reading Node %q: %w", p.target.Node, err)
	}
	p.egressMbps, p.billingZone = p.target.EgressMbps, p.target.BillingZone
	if p.egressMbps == nil {
		if q, ok := node.Status.Capacity[v1alpha1.EgressResource]; ok {
			v := q.Value()
			p.egressMbps = &v
		}
	}
	if p.billingZone == "" {
		p.billingZone = node.Labels[v1alpha1.BillingZoneLabel]
	}
	nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if p.target.Site != "" {
		nn.Spec = v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: p.target.Site}
	} else {
		nn.Spec.Scope = v1alpha1.ScopeNode
		nn.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
		}}
	}
	err = p.agent.api.CreateNodeNetwork(ctx, nn, FieldManager)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating NodeNetwork %q: %w", name, err)
	}
	p.ensured = true
	return nil
}

// clampMicros converts to whole microseconds within the schema's range.
func clampMicros(d time.Duration) int64 {
	return min(max(d.Microseconds(), 0), 60_000_000)
}
