// Package plugins lists edgeplace's scheduler plugins in one place, so the
// scheduler binary, the end-to-end benchmarks and the placement evaluation
// register the same set that manifests/scheduler/config.yaml enables.
package plugins

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

// Registry returns a factory for each edgeplace plugin, keyed by its name,
// whose plugins read the network map maps hands them: the scheduler's
// feed.FromAPIServer(), or a feed.Fixed map that a benchmark, a test or
// the placement evaluation fills itself.
func Registry(maps feed.Source) frameworkruntime.Registry {
	with := func(f func(context.Context, runtime.Object, fwk.Handle, feed.Source) (fwk.Plugin, error)) frameworkruntime.PluginFactory {
		return func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			return f(ctx, obj, h, maps)
		}
	}
	return frameworkruntime.Registry{
		networklatency.Name: with(networklatency.New),
		locality.Name:       with(locality.New),
		bandwidthcost.Name:  with(bandwidthcost.New),
	}
}
