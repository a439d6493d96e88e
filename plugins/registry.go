// Package plugins lists edgeplace's scheduler plugins in one place, so the
// scheduler binary and the end-to-end benchmarks register the same set that
// manifests/scheduler/config.yaml enables.
package plugins

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/netmap"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// Registry returns a factory for each edgeplace plugin, keyed by its name.
func Registry() frameworkruntime.Registry {
	return frameworkruntime.Registry{
		networklatency.Name: networklatency.New,
		locality.Name:       locality.New,
		bandwidthcost.Name:  bandwidthcost.New,
	}
}

// RegistryWithMap returns factories whose plugins read the given network map
// instead of feeding their own from the API server: harnesses that fill a
// map themselves (benchmarks, the placement evaluation) use it to run the
// real plugins inside the real framework.
func RegistryWithMap(m *netmap.Map) frameworkruntime.Registry {
	return frameworkruntime.Registry{
		networklatency.Name: func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			args, err := argscheme.NetworkLatencyArgs(obj)
			if err != nil {
				return nil, err
			}
			pl := networklatency.NewWithMap(ctx, args, h, m)
			if f := h.SharedInformerFactory(); f != nil {
				pl.WithWorkloads(f)
			}
			return pl, nil
		},
		locality.Name: func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
			return locality.NewWithMap(m), nil
		},
		bandwidthcost.Name: func(_ context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			args, err := argscheme.BandwidthCostArgs(obj)
			if err != nil {
				return nil, err
			}
			return bandwidthcost.NewWithMap(args, h, m), nil
		},
	}
}
