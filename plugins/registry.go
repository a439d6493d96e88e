// Package plugins lists edgeplace's scheduler plugins in one place, so the
// scheduler binary and the end-to-end benchmarks register the same set that
// manifests/scheduler/config.yaml enables.
package plugins

import (
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

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
