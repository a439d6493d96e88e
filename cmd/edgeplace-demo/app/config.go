package app

import (
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/manifests"
)

// demoConfig is the shipped configuration with the demo's billing zones
// filled in where the shipped file leaves them to the operator.
func demoConfig() []byte {
	var doc map[string]any
	if err := yaml.Unmarshal(manifests.SchedulerConfig(), &doc); err != nil {
		panic(fmt.Sprintf("the embedded scheduler configuration does not parse: %v", err))
	}
	var zones []any
	for _, name := range slices.Sorted(maps.Keys(zonePrices)) {
		zones = append(zones, map[string]any{"name": name, "pricePerMbps": zonePrices[name]})
	}
	for _, p := range doc["profiles"].([]any) {
		for _, pc := range p.(map[string]any)["pluginConfig"].([]any) {
			if pc := pc.(map[string]any); pc["name"] == "BandwidthCost" {
				pc["args"].(map[string]any)["zones"] = zones
			}
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// stockConfig is kube-scheduler's default profile: the same binary, none
// of the edgeplace plugins enabled.
var stockConfig = []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: default-scheduler
`)
