// Package v1alpha1 holds the edgeplace.io/v1alpha1 API: Landmarks (probe
// targets that stand for user populations) and NodeNetworks (measured RTT from
// a node, or from a whole site, to those landmarks).
//
// +k8s:deepcopy-gen=package
// +groupName=edgeplace.io
package v1alpha1
