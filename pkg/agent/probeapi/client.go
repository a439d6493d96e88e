// Package probeapi is the probe's client of the API server: the few
// resources it reads and writes (Landmarks, NodeNetworks, its Node and its
// site's Leases), on a scheme that holds only their types.
//
// The generated clientsets, client-go's and edgeplace's, register every
// type of every API group they know (through client-go's discovery and
// apply configurations, even a single typed client does). That costs a
// process that runs on every node about 8 MiB of resident memory before it
// does anything, most of it the pages of the code that registers them. The
// probe needs four resources; this client links those.
package probeapi

import (
	"context"
	"encoding/json"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Client reads and writes the probe's resources. Its methods are safe for
// concurrent use.
type Client struct {
	core, coordination, edge *rest.RESTClient
	params                   runtime.ParameterCodec
}

// New returns a Client for the API server of cfg. Its three REST clients
// share one HTTP client, so one connection, as a clientset's do.
func New(cfg *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{coordinationv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	restClient := func(gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = codecs
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		return rest.RESTClientForConfigAndClient(c, httpClient)
	}
	out := &Client{params: runtime.NewParameterCodec(scheme)}
	// The core group's client only reads raw Nodes (GetNode): its scheme
	// holds none of core/v1's types, only the Status of its errors.
	if out.core, err = restClient(schema.GroupVersion{Version: "v1"}, "/api"); err != nil {
		return nil, err
	}
	if out.coordination, err = restClient(coordinationv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if out.edge, err = restClient(v1alpha1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return out, nil
}

// Landmarks lists and watches the cluster's Landmarks, for an informer.
func (c *Client) Landmarks() cache.ListerWatcher {
	return cache.NewListWatchFromClient(c.edge, "landmarks", metav1.NamespaceAll, fields.Everything())
}

// Node is what the probe reads of its Node. Decoding no more of it keeps
// core/v1's types, the largest package of any client, out of the probe.
type Node struct {
	metav1.ObjectMeta `json:"metadata"`
	Status            NodeStatus `json:"status"`
}

// NodeStatus is what the probe reads of a Node's status.
type NodeStatus struct {
	Capacity map[string]resource.Quantity `json:"capacity,omitempty"`
}

// GetNode reads a Node.
func (c *Client) GetNode(ctx context.Context, name string) (*Node, error) {
	// Do, not DoRaw: its errors carry the server's Status (an RBAC
	// refusal says why).
	res := c.core.Get().Resource("nodes").Name(name).Do(ctx)
	if err := res.Error(); err != nil {
		return nil, err
	}
	body, err := res.Raw()
	if err != nil {
		return nil, err
	}
	out := &Node{}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("decoding Node %q: %w", name, err)
	}
	return out, nil
}

// GetNodeNetwork reads a NodeNetwork.
func (c *Client) GetNodeNetwork(ctx context.Context, name string) (*v1alpha1.NodeNetwork, error) {
	out := &v1alpha1.NodeNetwork{}
	return out, c.edge.Get().Resource("nodenetworks").Name(name).Do(ctx).Into(out)
}

// WatchNodeNetwork watches one NodeNetwork, from now on: its current state
// comes as the first event when it exists.
func (c *Client) WatchNodeNetwork(ctx context.Context, name string) (watch.Interface, error) {
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), Watch: true}
	return c.edge.Get().Resource("nodenetworks").VersionedParams(&opts, c.params).Watch(ctx)
}

// CreateNodeNetwork creates a NodeNetwork.
func (c *Client) CreateNodeNetwork(ctx context.Context, nn *v1alpha1.NodeNetwork, fieldManager string) error {
	opts := metav1.CreateOptions{FieldManager: fieldManager}
	return c.edge.Post().Resource("nodenetworks").VersionedParams(&opts, c.params).Body(nn).Do(ctx).Error()
}

// ApplyNodeNetworkStatus applies status as the whole of what fieldManager
// owns of a NodeNetwork's status (server-side apply, forced).
func (c *Client) ApplyNodeNetworkStatus(ctx context.Context, name string, status *v1alpha1.NodeNetworkStatus, fieldManager string) error {
	body, err := ApplyStatusBody(name, status)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force}
	return c.edge.Patch(types.ApplyPatchType).Resource("nodenetworks").Name(name).SubResource("status").
		VersionedParams(&opts, c.params).Body(body).Do(ctx).Error()
}

// ApplyStatusBody is the server-side apply request that sets a
// NodeNetwork's status. The status's zero-valued optional fields are left
// out, which for an apply means that the field manager no longer sets them:
// what it applied before and does not apply now goes.
func ApplyStatusBody(name string, status *v1alpha1.NodeNetworkStatus) ([]byte, error) {
	body, err := json.Marshal(struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status *v1alpha1.NodeNetworkStatus `json:"status"`
	}{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "NodeNetwork"},
		Metadata: struct {
			Name string `json:"name"`
		}{Name: name},
		Status: status,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the status of NodeNetwork %q: %w", name, err)
	}
	return body, nil
}

// DeleteNodeNetwork deletes a NodeNetwork.
func (c *Client) DeleteNodeNetwork(ctx context.Context, name string) error {
	return c.edge.Delete().Resource("nodenetworks").Name(name).Do(ctx).Error()
}

// Leases returns the Leases of a namespace.
func (c *Client) Leases(namespace string) *Leases {
	return &Leases{client: c.coordination, namespace: namespace}
}

// Leases reads and writes the Leases of one namespace.
type Leases struct {
	client    *rest.RESTClient
	namespace string
}

// Get reads a Lease.
func (l *Leases) Get(ctx context.Context, name string) (*coordinationv1.Lease, error) {
	out := &coordinationv1.Lease{}
	return out, l.client.Get().Namespace(l.namespace).Resource("leases").Name(name).Do(ctx).Into(out)
}

// Create creates a Lease.
func (l *Leases) Create(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	out := &coordinationv1.Lease{}
	return out, l.client.Post().Namespace(l.namespace).Resource("leases").Body(lease).Do(ctx).Into(out)
}

// Update replaces a Lease; it fails with a conflict when the Lease has
// changed since lease was read.
func (l *Leases) Update(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	out := &coordinationv1.Lease{}
	return out, l.client.Put().Namespace(l.namespace).Resource("leases").Name(lease.Name).Body(lease).Do(ctx).Into(out)
}
