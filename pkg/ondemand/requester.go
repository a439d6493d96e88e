// Package ondemand carries the scheduler's requests for measurements back
// to the probes. When a placement rests on an estimate (a new node, a stale
// entry), the chosen node's probe is asked to measure those landmarks now:
// the scheduler sets spec.measureNow on the NodeNetwork behind the node's
// row, or creates the object the node's probe would publish, and every
// probe that writes or follows that object measures and publishes at once
// (pkg/agent/probe, Requests).
package ondemand

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
)

const (
	// DefaultPerSecond is the cluster-wide rate of requests: a burst of
	// placements on new nodes asks for a handful of objects a second, not
	// one write per pod.
	DefaultPerSecond = 5
	// Repeat is how long an object is not asked again for landmarks it
	// was already asked for: its probe needs a few seconds to measure and
	// publish, and pods placed meanwhile are answered by that.
	Repeat = 30 * time.Second
	// queued bounds the objects waiting for the rate limit; asks beyond it
	// are dropped (counted): the next placement asks again.
	queued = 256
)

// Request asks for a node's RTT to some landmarks.
type Request struct {
	Node string
	// Object is the NodeNetwork behind the node's row; empty when the node
	// has none, and then the request creates the object its probe would
	// publish: its site's when it has a site label, else its own.
	Object string
	Site   string
	// NodeUID owns a node's own object, as the probe's owner reference
	// would; without it (the Node unknown) no object is created.
	NodeUID   types.UID
	Landmarks []string
}

// Requester sends requests, rate-limited and merged per object. Ask is
// safe for concurrent use and never blocks.
type Requester struct {
	edge    edgeclient.Interface
	limiter *rate.Limiter
	ready   chan string
	now     func() time.Time

	mu      sync.Mutex
	pending map[string]*Request             // by object, waiting to be sent
	sent    map[string]map[string]time.Time // by object: landmark -> when asked
}

// New returns a requester that sends at most perSecond requests a second.
func New(edge edgeclient.Interface, perSecond float64) *Requester {
	registerMetrics()
	return &Requester{
		edge:    edge,
		limiter: rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond))),
		ready:   make(chan string, queued),
		now:     time.Now,
		pending: map[string]*Request{},
		sent:    map[string]map[string]time.Time{},
	}
}

// objectOf is the NodeNetwork a request goes to.
func (r *Request) objectOf() string {
	switch {
	case r.Object != "":
		return r.Object
	case r.Site != "":
		return v1alpha1.SiteObjectName(r.Site)
	default:
		return r.Node
	}
}

// Ask queues a request. Landmarks its object was asked for within Repeat
// are left out; what is left joins a request already waiting for the same
// object. It returns whether anything was queued.
func (r *Requester) Ask(req Request) bool {
	object := req.objectOf()
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var fresh []string
	for _, lm := range req.Landmarks {
		if at, ok := r.sent[object][lm]; ok && now.Sub(at) < Repeat {
			continue
		}
		fresh = append(fresh, lm)
	}
	if len(fresh) == 0 {
		requests.WithLabelValues("repeated").Inc()
		return false
	}
	if p, ok := r.pending[object]; ok {
		p.Landmarks = union(p.Landmarks, fresh)
		requests.WithLabelValues("merged").Inc()
		return true
	}
	select {
	case r.ready <- object:
	default:
		requests.WithLabelValues("dropped").Inc()
		return false
	}
	req.Landmarks = union(nil, fresh)
	r.pending[object] = &req
	return true
}

// Run sends queued requests until ctx ends.
func (r *Requester) Run(ctx context.Context) {
	for {
		var object string
		select {
		case <-ctx.Done():
			return
		case object = <-r.ready:
		}
		if err := r.limiter.Wait(ctx); err != nil {
			return
		}
		r.mu.Lock()
		req := r.pending[object]
		delete(r.pending, object)
		now := r.now()
		if r.sent[object] == nil {
			r.sent[object] = map[string]time.Time{}
		}
		for _, lm := range req.Landmarks {
			r.sent[object][lm] = now
		}
		r.forgetOld(now)
		r.mu.Unlock()
		if err := r.send(ctx, object, req, now); err != nil {
			requests.WithLabelValues("error").Inc()
			klog.FromContext(ctx).Error(err, "Asking a probe to measure now", "nodeNetwork", object, "node", req.Node, "landmarks", req.Landmarks)
			continue
		}
		requests.WithLabelValues("sent").Inc()
		klog.FromContext(ctx).V(2).Info("Asked a probe to measure now", "nodeNetwork", object, "node", req.Node, "landmarks", req.Landmarks)
	}
}

// forgetOld drops what was sent more than Repeat ago (r.mu held), so that
// sent holds at most the objects of the last Repeat.
func (r *Requester) forgetOld(now time.Time) {
	for object, lms := range r.sent {
		maps.DeleteFunc(lms, func(_ string, at time.Time) bool { return now.Sub(at) >= Repeat })
		if len(lms) == 0 {
			delete(r.sent, object)
		}
	}
}

func (r *Requester) send(ctx context.Context, object string, req *Request, now time.Time) error {
	ask := v1alpha1.MeasureRequest{Landmarks: req.Landmarks, RequestedAt: metav1.NewMicroTime(now)}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"measureNow": ask}})
	if err != nil {
		return err
	}
	nns := r.edge.EdgeplaceV1alpha1().NodeNetworks()
	_, err = nns.Patch(ctx, object, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if !apierrors.IsNotFound(err) || req.Object != "" {
		return err // an object that went away is not made again here
	}
	nn := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: object}, Spec: v1alpha1.NodeNetworkSpec{MeasureNow: &ask}}
	if req.Site != "" {
		nn.Spec.Scope, nn.Spec.Site = v1alpha1.ScopeSite, req.Site
	} else {
		if req.NodeUID == "" {
			return fmt.Errorf("node %q is not known: not creating its NodeNetwork", req.Node)
		}
		nn.Spec.Scope = v1alpha1.ScopeNode
		nn.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: req.Node, UID: req.NodeUID}}
	}
	_, err = nns.Create(ctx, nn, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) { // its probe was first
		_, err = nns.Patch(ctx, object, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	}
	return err
}

// FieldManager owns spec.measureNow.
const FieldManager = "edgeplace-scheduler"

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
