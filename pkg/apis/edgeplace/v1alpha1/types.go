package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Limits that the CRD schema enforces, so that no reader has to defend
// against values the API server would have refused.
const (
	// MaxRTTMicroseconds is the largest RTT a measurement may carry: one minute.
	MaxRTTMicroseconds = 60_000_000
	// MaxLossPartsPerMillion is 100% loss.
	MaxLossPartsPerMillion = 1_000_000
	// MaxLandmarksPerObject bounds one NodeNetwork's landmark list.
	MaxLandmarksPerObject = 1024
)

// LandmarkProtocol is how a probe measures the RTT to a landmark.
// +kubebuilder:validation:Enum=tcp-echo;tcp-connect;udp-echo;icmp
type LandmarkProtocol string

const (
	// ProtocolTCPEcho measures a small echo over an established TCP connection.
	ProtocolTCPEcho LandmarkProtocol = "tcp-echo"
	// ProtocolTCPConnect measures the TCP handshake, for plain TCP services.
	ProtocolTCPConnect LandmarkProtocol = "tcp-connect"
	// ProtocolUDPEcho measures a UDP echo.
	ProtocolUDPEcho LandmarkProtocol = "udp-echo"
	// ProtocolICMP measures an ICMP echo through an unprivileged ping socket.
	ProtocolICMP LandmarkProtocol = "icmp"
)

// Location places a landmark or a site in the operator's geography.
type Location struct {
	// Province (or state) of the user population, for example "zhejiang".
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Province string `json:"province,omitempty"`
	// City, for example "hangzhou".
	// +kubebuilder:validation:MaxLength=63
	// +optional
	City string `json:"city,omitempty"`
	// Carrier (ISP), for example "telecom", "unicom" or "cmcc".
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Carrier string `json:"carrier,omitempty"`
	// Site, on a site landmark: a responder that runs in that edge site
	// (the value of its nodes' edgeplace.io/site label), so that probes
	// measure site-to-site RTT. Pods that depend on workloads in the site
	// are placed by it.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Site string `json:"site,omitempty"`
}

// LandmarkSpec says where a landmark answers and which users it stands for.
type LandmarkSpec struct {
	// Addresses the probe measures: "host:port" for the TCP and UDP
	// protocols, a bare host for icmp. The probe uses the first that answers.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=261
	// +listType=atomic
	Addresses []string `json:"addresses"`
	// Protocol the probe speaks to the addresses.
	// +kubebuilder:default=tcp-echo
	// +optional
	Protocol LandmarkProtocol `json:"protocol,omitempty"`
	// Location of the user population the landmark stands for.
	// +optional
	Location Location `json:"location,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +genclient:noStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=lm
// +kubebuilder:printcolumn:name="Protocol",type=string,JSONPath=`.spec.protocol`
// +kubebuilder:printcolumn:name="Province",type=string,JSONPath=`.spec.location.province`
// +kubebuilder:printcolumn:name="Carrier",type=string,JSONPath=`.spec.location.carrier`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Landmark is a probe target standing for a user population, such as the
// telecom subscribers of one province. Pods name landmarks in their demand.
type Landmark struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec LandmarkSpec `json:"spec"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// LandmarkList is a list of Landmarks.
type LandmarkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Landmark `json:"items"`
}

// NodeNetworkScope says whether a NodeNetwork speaks for one node or a site.
// +kubebuilder:validation:Enum=Node;Site
type NodeNetworkScope string

const (
	// ScopeNode: the object is named after its Node and measured from it.
	ScopeNode NodeNetworkScope = "Node"
	// ScopeSite: the object speaks for every node whose site label equals
	// spec.site; one probe per site publishes it.
	ScopeSite NodeNetworkScope = "Site"
)

// NodeNetworkSpec says what a NodeNetwork speaks for.
// +kubebuilder:validation:XValidation:rule="(has(self.scope) && self.scope == 'Site') ? (has(self.site) && size(self.site) > 0) : !has(self.site)",message="spec.site is required when scope is Site and forbidden when scope is Node"
type NodeNetworkSpec struct {
	// Scope is Node (the object's name is the Node's name) or Site.
	// +kubebuilder:default=Node
	// +optional
	Scope NodeNetworkScope `json:"scope,omitempty"`
	// Site is the value of the edgeplace.io/site node label this object
	// speaks for; only with scope Site.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Site string `json:"site,omitempty"`
	// MeasureNow asks the probes that write or follow this object to measure
	// some landmarks now rather than at their next turn. The scheduler sets
	// it when a placement rested on an estimate for them; each probe takes a
	// request once, by its requestedAt, and publishes what it measured at
	// once.
	// +optional
	MeasureNow *MeasureRequest `json:"measureNow,omitempty"`
}

// MeasureRequest asks for landmarks to be measured now.
type MeasureRequest struct {
	// Landmarks are the Landmark objects to measure.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	Landmarks []string `json:"landmarks"`
	// RequestedAt is when the request was made. A probe takes each request
	// once, and none older than a minute.
	RequestedAt metav1.MicroTime `json:"requestedAt"`
}

// LandmarkRTT is one landmark's measurement window as seen from the node.
// +kubebuilder:validation:XValidation:rule="self.rttP50Microseconds <= self.rttP90Microseconds",message="rttP50Microseconds must not exceed rttP90Microseconds"
type LandmarkRTT struct {
	// Landmark is the name of the Landmark object measured.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Landmark string `json:"landmark"`
	// RTTP50Microseconds is the median round-trip time of the window.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=60000000
	RTTP50Microseconds int64 `json:"rttP50Microseconds"`
	// RTTP90Microseconds is the 90th-percentile round-trip time of the window.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=60000000
	RTTP90Microseconds int64 `json:"rttP90Microseconds"`
	// JitterMicroseconds is the mean absolute difference between
	// consecutive samples of the window.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=60000000
	// +optional
	JitterMicroseconds int64 `json:"jitterMicroseconds,omitempty"`
	// LossPartsPerMillion is the share of probes of the window that got no
	// answer, in parts per million (1000000 = all lost).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	LossPartsPerMillion int64 `json:"lossPartsPerMillion,omitempty"`
	// Samples is the number of answered probes the figures come from.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Samples int32 `json:"samples"`
	// ObservedTime is when the window was last summarised. Readers treat
	// measurements older than their TTL as missing.
	ObservedTime metav1.Time `json:"observedTime"`
}

// NodeNetworkStatus is what the probe measured, and the node's bandwidth.
type NodeNetworkStatus struct {
	// Landmarks holds one entry per measured landmark.
	// +kubebuilder:validation:MaxItems=1024
	// +listType=map
	// +listMapKey=landmark
	// +optional
	Landmarks []LandmarkRTT `json:"landmarks,omitempty"`
	// EgressCapacityMbps is the node's (or, for a site, each node's) egress
	// bandwidth in megabits per second.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	EgressCapacityMbps *int64 `json:"egressCapacityMbps,omitempty"`
	// BillingZone names the bandwidth billing zone the node's egress is
	// metered in.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	BillingZone string `json:"billingZone,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=nn
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scope`
// +kubebuilder:printcolumn:name="Site",type=string,JSONPath=`.spec.site`
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.status.billingZone`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// NodeNetwork carries the RTT measured from one node (scope Node, named
// after the Node and owned by it) or from one site (scope Site) to each
// Landmark. The probe agent writes its status; the scheduler reads it.
type NodeNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Spec NodeNetworkSpec `json:"spec,omitempty"`
	// +optional
	Status NodeNetworkStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// NodeNetworkList is a list of NodeNetworks.
type NodeNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeNetwork `json:"items"`
}

// DemandEntry is one landmark a workload serves and its share of the users.
type DemandEntry struct {
	// Landmark is the name of a Landmark.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Landmark string `json:"landmark"`
	// Weight is the landmark's share, relative to the other entries.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +kubebuilder:default=1
	// +optional
	Weight int64 `json:"weight,omitempty"`
}

// Carrier is a network carrier.
// +kubebuilder:validation:Enum=telecom;unicom;cmcc;multi
type Carrier string

// NodeType is a kind of edge node.
// +kubebuilder:validation:Enum=ens;cdn
type NodeType string

// LatencyProfileSpec is a pod's network intent, the same fields as the pod
// annotations (see the README), for reuse by many pods.
// +kubebuilder:validation:XValidation:rule="!has(self.maxRTT) || has(self.demand)",message="maxRTT needs demand"
// +kubebuilder:validation:XValidation:rule="(!has(self.maxLoss) && !has(self.maxJitter)) || has(self.demand)",message="maxLoss and maxJitter need demand"
type LatencyProfileSpec struct {
	// Demand lists the landmarks the pods serve.
	// +kubebuilder:validation:MaxItems=1024
	// +listType=map
	// +listMapKey=landmark
	// +optional
	Demand []DemandEntry `json:"demand,omitempty"`
	// MaxRTT is a hard SLO: every demand landmark within this RTT.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('60s')",message="maxRTT must be greater than 0 and at most 60s"
	// +optional
	MaxRTT *metav1.Duration `json:"maxRTT,omitempty"`
	// MaxLoss bounds the measured loss to every demand landmark, as a
	// percentage such as "1%" or "0.05%".
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?%$`
	// +kubebuilder:validation:MaxLength=16
	// +optional
	MaxLoss string `json:"maxLoss,omitempty"`
	// MaxJitter bounds the measured jitter to every demand landmark.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('60s')",message="maxJitter must be greater than 0 and at most 60s"
	// +optional
	MaxJitter *metav1.Duration `json:"maxJitter,omitempty"`
	// Percentile is the RTT figure the SLO and the score use.
	// +kubebuilder:validation:Enum=p50;p90
	// +optional
	Percentile string `json:"percentile,omitempty"`
	// Estimates is which estimates of a missing RTT the SLO accepts.
	// +kubebuilder:validation:Enum=none;peers;coordinates
	// +optional
	Estimates string `json:"estimates,omitempty"`
	// EgressMbps is the pods' sustained egress.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	EgressMbps int64 `json:"egressMbps,omitempty"`
	// MaxCost caps the monthly bandwidth cost a pod may add to its zone.
	// +optional
	MaxCost *resource.Quantity `json:"maxCost,omitempty"`
	// Carriers, if set, are the only carriers the pods may run on.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	Carriers []Carrier `json:"carriers,omitempty"`
	// ForbiddenCarriers are carriers the pods never run on.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	ForbiddenCarriers []Carrier `json:"forbiddenCarriers,omitempty"`
	// Provinces, if set, are the only provinces the pods may run in.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	Provinces []string `json:"provinces,omitempty"`
	// ForbiddenProvinces are provinces the pods never run in.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	ForbiddenProvinces []string `json:"forbiddenProvinces,omitempty"`
	// NodeTypes, if set, are the only node types the pods may run on.
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	NodeTypes []NodeType `json:"nodeTypes,omitempty"`
	// DependsOn names the workload the pods talk to.
	// +optional
	DependsOn *Dependency `json:"dependsOn,omitempty"`
}

// Dependency is a workload pods talk to, found by a label selector in the
// pods' namespace: the RTT from a candidate node to the sites where its pods
// run (through site landmarks) enters the score, and the SLO if one is set.
type Dependency struct {
	// Selector is a label selector, for example "app=mysql".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Selector string `json:"selector"`
	// Weight of the dependency against the demand's weights.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	Weight int64 `json:"weight,omitempty"`
	// MaxRTT to every site where the dependency runs.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('60s')",message="maxRTT must be greater than 0 and at most 60s"
	// +optional
	MaxRTT *metav1.Duration `json:"maxRTT,omitempty"`
}

// +genclient
// +genclient:noStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=lp
// +kubebuilder:printcolumn:name="Max RTT",type=string,JSONPath=`.spec.maxRTT`
// +kubebuilder:printcolumn:name="Egress",type=integer,JSONPath=`.spec.egressMbps`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LatencyProfile is a reusable network intent that pods reference with the
// edgeplace.io/latency-profile annotation.
type LatencyProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec LatencyProfileSpec `json:"spec"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// LatencyProfileList is a list of LatencyProfiles.
type LatencyProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LatencyProfile `json:"items"`
}
