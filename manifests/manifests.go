// Package manifests embeds the manifests that programs read at run time, so
// that tests, the demo and the benchmarks use exactly what is deployed.
package manifests

import (
	"embed"
	"errors"
	"io/fs"

	"sigs.k8s.io/yaml"
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

// DeschedulerPolicyWith returns the shipped DeschedulerPolicy with some of
// the EdgeplaceRebalance args replaced: what the demo and the tests run,
// their minutes scaled to seconds.
func DeschedulerPolicyWith(args map[string]any) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(deschedulerPolicy, &doc); err != nil {
		return nil, err
	}
	profiles, _ := doc["profiles"].([]any)
	for _, p := range profiles {
		configs, _ := p.(map[string]any)["pluginConfig"].([]any)
		for _, pc := range configs {
			if pc, _ := pc.(map[string]any); pc["name"] == "EdgeplaceRebalance" {
				for k, v := range args {
					pc["args"].(map[string]any)[k] = v
				}
				return yaml.Marshal(doc)
			}
		}
	}
	return nil, errors.New("the shipped DeschedulerPolicy configures no EdgeplaceRebalance")
}

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
