// Package manifests embeds the manifests that programs read at run time, so
// that tests, the demo and the benchmarks use exactly what is deployed.
package manifests

import (
	"embed"
	"io/fs"
)

//go:embed crds/*.yaml
var crds embed.FS

// SchedulerConfigFile is the path, relative to this directory, of the
// KubeSchedulerConfiguration that the scheduler Deployment mounts.
const SchedulerConfigFile = "scheduler/config.yaml"

//go:embed scheduler/config.yaml
var schedulerConfig []byte

// DeschedulerPolicyFile is the path, relative to this directory, of the
// DeschedulerPolicy that the descheduler Deployment mounts.
const DeschedulerPolicyFile = "descheduler/policy.yaml"

//go:embed descheduler/policy.yaml
var deschedulerPolicy []byte

// DeschedulerPolicy returns the shipped DeschedulerPolicy.
func DeschedulerPolicy() []byte { return append([]byte(nil), deschedulerPolicy...) }

// CRDs returns the generated CustomResourceDefinition files.
func CRDs() fs.FS {
	sub, err := fs.Sub(crds, "crds")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// SchedulerConfig returns the shipped KubeSchedulerConfiguration.
func SchedulerConfig() []byte { return append([]byte(nil), schedulerConfig...) }
