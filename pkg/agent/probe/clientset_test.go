package probe

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/edgeplace/edgeplace/pkg/agent/probeapi"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
)

// clientsetAPI is the probe's API on a generated clientset, so that unit
// tests run on its fake. The integration tests run the real probeapi.Client.
type clientsetAPI struct {
	edge edgeclient.Interface
}

func viaClientset(edge edgeclient.Interface) API { return clientsetAPI{edge: edge} }

func (c clientsetAPI) Landmarks() cache.ListerWatcher {
	landmarks := c.edge.EdgeplaceV1alpha1().Landmarks()
	// The fake does not stream a watch's initial list; the wrapper tells
	// the informer so, as the generated informers do.
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return landmarks.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return landmarks.Watch(ctx, opts)
		},
	}, c.edge)
}

func (c clientsetAPI) WatchNodeNetwork(ctx context.Context, name string) (watch.Interface, error) {
	return c.edge.EdgeplaceV1alpha1().NodeNetworks().Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
}

func (c clientsetAPI) GetNode(context.Context, string) (*probeapi.Node, error) {
	return nil, errors.New("the unit tests' API has no Nodes")
}

func (c clientsetAPI) CreateNodeNetwork(ctx context.Context, nn *v1alpha1.NodeNetwork, fieldManager string) error {
	_, err := c.edge.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, nn, metav1.CreateOptions{FieldManager: fieldManager})
	return err
}

func (c clientsetAPI) ApplyNodeNetworkStatus(ctx context.Context, name string, status *v1alpha1.NodeNetworkStatus, fieldManager string) error {
	body, err := probeapi.ApplyStatusBody(name, status)
	if err != nil {
		return err
	}
	force := true
	_, err = c.edge.EdgeplaceV1alpha1().NodeNetworks().Patch(ctx, name, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force}, "status")
	return err
}
