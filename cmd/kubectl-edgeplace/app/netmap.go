package app

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/estimate"
	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// networkMap rebuilds, from the objects in the API server now, the network
// map the scheduler holds, estimates included. What it says is a
// re-simulation: the scheduler decided on the measurements of its time.
func (c *clients) networkMap(ctx context.Context, ttl time.Duration) (*netmap.Map, error) {
	m := netmap.New()
	landmarks, err := c.edge.EdgeplaceV1alpha1().Landmarks().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, lm := range landmarks.Items {
		m.SetLandmarkAt(lm.Name, lm.Spec.Location)
	}
	nodes, err := c.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes.Items {
		m.SetNode(n.Name, n.Labels)
	}
	networks, err := c.edge.EdgeplaceV1alpha1().NodeNetworks().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range networks.Items {
		m.SetNodeNetwork(&networks.Items[i])
	}
	if profiles, err := c.edge.EdgeplaceV1alpha1().LatencyProfiles("").List(ctx, metav1.ListOptions{}); err == nil {
		for i := range profiles.Items {
			m.SetProfile(&profiles.Items[i])
		}
	}
	m.SetState(netmap.Ready)
	snap := m.Flush()
	m.EnableEstimation(ttl)
	m.PublishEstimates(estimate.NewMapEstimator().Estimate(ctx, snap, time.Now(), ttl))
	m.Flush()
	return m, nil
}
