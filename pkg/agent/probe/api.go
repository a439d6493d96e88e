package probe

import (
	"context"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/edgeplace/edgeplace/pkg/agent/probeapi"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// API is what an Agent and its Publishers ask of the API server.
// probeapi.Client is the one the probe runs with; it links only these
// resources' types.
type API interface {
	// Landmarks lists and watches the cluster's Landmarks.
	Landmarks() cache.ListerWatcher
	// WatchNodeNetwork watches one NodeNetwork from now on.
	WatchNodeNetwork(ctx context.Context, name string) (watch.Interface, error)
	GetNode(ctx context.Context, name string) (*probeapi.Node, error)
	CreateNodeNetwork(ctx context.Context, nn *v1alpha1.NodeNetwork, fieldManager string) error
	// ApplyNodeNetworkStatus applies status as all that fieldManager owns
	// of the NodeNetwork's status (server-side apply, forced).
	ApplyNodeNetworkStatus(ctx context.Context, name string, status *v1alpha1.NodeNetworkStatus, fieldManager string) error
}
