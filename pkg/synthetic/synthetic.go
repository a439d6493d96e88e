// Package synthetic builds an ENS-style edge topology for demos, tests and
// benchmarks: one edge site per province and carrier, with RTT synthesised
// from geography. It is a model, not a measurement; see RTT for the formula.
package synthetic

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"
)

// Province is a mainland-China province (or municipality/region) and the
// position of its capital, where its edge sites are placed.
type Province struct {
	Name     string // lower-case pinyin, used in object names
	City     string
	Lat, Lon float64
}

// Provinces are the 31 provincial-level divisions of mainland China.
var Provinces = []Province{
	{"beijing", "beijing", 39.90, 116.40},
	{"tianjin", "tianjin", 39.13, 117.20},
	{"hebei", "shijiazhuang", 38.04, 114.51},
	{"shanxi", "taiyuan", 37.87, 112.55},
	{"neimenggu", "hohhot", 40.84, 111.75},
	{"liaoning", "shenyang", 41.80, 123.43},
	{"jilin", "changchun", 43.82, 125.32},
	{"heilongjiang", "harbin", 45.80, 126.53},
	{"shanghai", "shanghai", 31.23, 121.47},
	{"jiangsu", "nanjing", 32.06, 118.80},
	{"zhejiang", "hangzhou", 30.27, 120.16},
	{"anhui", "hefei", 31.82, 117.23},
	{"fujian", "fuzhou", 26.07, 119.30},
	{"jiangxi", "nanchang", 28.68, 115.86},
	{"shandong", "jinan", 36.65, 117.12},
	{"henan", "zhengzhou", 34.75, 113.63},
	{"hubei", "wuhan", 30.59, 114.31},
	{"hunan", "changsha", 28.23, 112.94},
	{"guangdong", "guangzhou", 23.13, 113.26},
	{"guangxi", "nanning", 22.82, 108.37},
	{"hainan", "haikou", 20.04, 110.34},
	{"chongqing", "chongqing", 29.56, 106.55},
	{"sichuan", "chengdu", 30.67, 104.07},
	{"guizhou", "guiyang", 26.65, 106.63},
	{"yunnan", "kunming", 25.04, 102.71},
	{"xizang", "lhasa", 29.65, 91.13},
	{"shaanxi", "xian", 34.34, 108.94},
	{"gansu", "lanzhou", 36.06, 103.83},
	{"qinghai", "xining", 36.62, 101.78},
	{"ningxia", "yinchuan", 38.49, 106.23},
	{"xinjiang", "urumqi", 43.83, 87.62},
}

// Carriers are the three national carriers.
var Carriers = []string{"telecom", "unicom", "cmcc"}

// Kinds of edge node.
const (
	ENS = "ens" // operator edge site
	CDN = "cdn" // CDN point of presence
)

// Site is one edge site: a province and a carrier, of one kind.
type Site struct {
	Province Province
	Carrier  string
	Kind     string // ENS (the zero value counts as ENS) or CDN
}

// ID is the site's region id: ENS-style "cn-hangzhou-telecom" for operator
// edge sites, "cdn-hangzhou-telecom" for CDN points of presence.
func (s Site) ID() string {
	if s.Kind == CDN {
		return fmt.Sprintf("cdn-%s-%s", s.Province.City, s.Carrier)
	}
	return fmt.Sprintf("cn-%s-%s", s.Province.City, s.Carrier)
}

// Population names the user population of the site's province and carrier,
// such as "zhejiang-telecom"; landmarks carry these names.
func (s Site) Population() string { return s.Province.Name + "-" + s.Carrier }

// Sites returns every province x carrier operator edge site.
func Sites() []Site { return sitesOf(ENS) }

// CDNSites returns a CDN point of presence for every province and carrier,
// in the same cities as the edge sites.
func CDNSites() []Site { return sitesOf(CDN) }

func sitesOf(kind string) []Site {
	out := make([]Site, 0, len(Provinces)*len(Carriers))
	for _, p := range Provinces {
		for _, c := range Carriers {
			out = append(out, Site{Province: p, Carrier: c, Kind: kind})
		}
	}
	return out
}

// Parameters of the RTT model.
const (
	// AccessRTT is the round trip through the access networks at both ends.
	AccessRTT = 2 * time.Millisecond
	// RouteFactor stretches great-circle distance into fibre-route length.
	RouteFactor = 1.6
	// FibreKmPerMs is the speed of light in fibre, one way.
	FibreKmPerMs = 200.0
	// CrossCarrierPenalty is added when the two ends are on different
	// carriers, whose traffic meets only at a few interconnection points.
	CrossCarrierPenalty = 15 * time.Millisecond
	// Spread is the largest deterministic per-pair deviation, as a fraction.
	Spread = 0.08
)

// RTT is the modelled median round trip between two sites:
//
//	AccessRTT + 2 x great-circle km x RouteFactor / FibreKmPerMs
//	          + CrossCarrierPenalty if the carriers differ,
//
// scaled by a deterministic factor within +-Spread drawn from the pair, so
// that sites at equal distance do not tie.
func RTT(a, b Site) time.Duration {
	km := greatCircleKm(a.Province.Lat, a.Province.Lon, b.Province.Lat, b.Province.Lon)
	ms := float64(AccessRTT)/float64(time.Millisecond) + 2*km*RouteFactor/FibreKmPerMs
	if a.Carrier != b.Carrier {
		ms += float64(CrossCarrierPenalty) / float64(time.Millisecond)
	}
	ms *= 1 + Spread*(2*unit(a.ID()+"|"+b.ID())-1)
	return time.Duration(ms * float64(time.Millisecond))
}

// P90 is the modelled 90th percentile for a median: 15% plus 0.5 ms above it.
func P90(p50 time.Duration) time.Duration {
	return p50 + p50*15/100 + 500*time.Microsecond
}

func greatCircleKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Sqrt(h))
}

// unit maps a string to [0, 1) deterministically.
func unit(s string) float64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return float64(h.Sum64()>>11) / float64(1<<53)
}
