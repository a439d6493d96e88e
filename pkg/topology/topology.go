// Package topology reads where a node is from its labels: the well-known
// topology labels, edgeplace's own, ENS-style region ids such as
// "cn-hangzhou-telecom", and OpenYurt node pools. Missing, partial or
// unknown labels are normal: the fields that cannot be told stay empty.
package topology

import (
	"strings"
)

// Labels read from nodes.
const (
	RegionLabel   = "topology.kubernetes.io/region"
	ZoneLabel     = "topology.kubernetes.io/zone"
	ProvinceLabel = "edgeplace.io/province"
	CityLabel     = "edgeplace.io/city"
	CarrierLabel  = "edgeplace.io/carrier"
	SiteLabel     = "edgeplace.io/site"
	NodeTypeLabel = "edgeplace.io/node-type"
	NodePoolLabel = "apps.openyurt.io/nodepool"
	// BillingZoneLabel names the bandwidth billing zone a node's egress is
	// metered in, over its NodeNetwork's.
	BillingZoneLabel = "edgeplace.io/billing-zone"
)

// Carriers, as normalised.
const (
	Telecom = "telecom"
	Unicom  = "unicom"
	CMCC    = "cmcc"
	// Multi is a multi-carrier (BGP) site, reachable from every carrier.
	Multi = "multi"
)

// Node types.
const (
	ENS = "ens"
	CDN = "cdn"
)

// Location is what the labels say about where a node is.
type Location struct {
	Region, Zone   string
	Province, City string
	Carrier        string // one of the carrier constants, or ""
	Site           string
	NodeType       string // ENS, CDN or ""
	NodePool       string
	BillingZone    string
}

// FromLabels reads a node's location. Edgeplace's own labels win; what they
// leave out is taken from an ENS-style id in the site label, the region
// label or the node pool name.
func FromLabels(labels map[string]string) Location {
	loc := Location{
		Region:      labels[RegionLabel],
		Zone:        labels[ZoneLabel],
		Province:    strings.ToLower(labels[ProvinceLabel]),
		City:        strings.ToLower(labels[CityLabel]),
		Carrier:     NormaliseCarrier(labels[CarrierLabel]),
		Site:        labels[SiteLabel],
		NodeType:    normaliseNodeType(labels[NodeTypeLabel]),
		NodePool:    labels[NodePoolLabel],
		BillingZone: labels[BillingZoneLabel],
	}
	for _, id := range []string{loc.Site, loc.Region, loc.NodePool} {
		ens, ok := ParseENSID(id)
		if !ok {
			continue
		}
		if loc.City == "" {
			loc.City = ens.City
		}
		if loc.Carrier == "" {
			loc.Carrier = ens.Carrier
		}
		if loc.Site == "" {
			loc.Site = id
		}
		if loc.NodeType == "" {
			loc.NodeType = ENS
		}
		break
	}
	if loc.Site == "" && loc.NodePool != "" {
		// A node pool groups the nodes of one place: the best site we have.
		loc.Site = loc.NodePool
	}
	if loc.Province == "" {
		loc.Province = ProvinceOfCity(loc.City)
	}
	return loc
}

// ENSID is an ENS-style region id taken apart.
type ENSID struct {
	City, Carrier string
}

// ParseENSID reads "cn-<city>-<carrier>", for example "cn-hangzhou-telecom"
// or "cn-wuhan-multiCarrier". The city may itself contain dashes.
func ParseENSID(id string) (ENSID, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(id), "cn-")
	if !ok {
		return ENSID{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 || i == len(rest)-1 {
		return ENSID{}, false
	}
	carrier := NormaliseCarrier(rest[i+1:])
	if carrier == "" {
		return ENSID{}, false
	}
	return ENSID{City: rest[:i], Carrier: carrier}, true
}

// NormaliseCarrier maps the usual spellings of a carrier to one of the
// carrier constants; anything else gives "".
func NormaliseCarrier(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "telecom", "chinatelecom", "china-telecom", "ct", "dianxin":
		return Telecom
	case "unicom", "chinaunicom", "china-unicom", "cu", "liantong":
		return Unicom
	case "cmcc", "mobile", "chinamobile", "china-mobile", "cm", "yidong":
		return CMCC
	case "multi", "multicarrier", "multi-carrier", "bgp":
		return Multi
	}
	return ""
}

func normaliseNodeType(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case ENS, "edge":
		return ENS
	case CDN:
		return CDN
	}
	return ""
}
