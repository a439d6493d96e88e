package config

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the kube-scheduler configuration group; plugin args live in it
// by the scheduler's convention (kind = plugin name + "Args").
const GroupName = "kubescheduler.config.k8s.io"

// SchemeGroupVersion is the internal version of the args.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

var (
	// SchemeBuilder collects the functions that add the internal args to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the internal args to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &NetworkLatencyArgs{}, &BandwidthCostArgs{})
	return nil
}
