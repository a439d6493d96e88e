// Package config holds the internal types of the edgeplace plugins' args, as
// they appear in a KubeSchedulerConfiguration's pluginConfig.
//
// +k8s:deepcopy-gen=package
package config
