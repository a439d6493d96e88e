package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/edgeplace/edgeplace/pkg/intent"
	"github.com/edgeplace/edgeplace/pkg/synthetic"
)

// Workload is one of the demo's sample applications.
type Workload struct {
	Name, What string
	// Demand is the edgeplace.io/demand annotation: landmarks (user
	// populations) and weights.
	Demand string
	// SLO is the p90 bound ("" for none).
	SLO string
	// Replicas > 1 makes a Deployment; otherwise a bare pod.
	Replicas int
	// EgressMbps is requested as the edgeplace.io/egress-mbps resource.
	EgressMbps int64
	// SpreadSites keeps the replicas on different sites (required pod
	// anti-affinity on the site label), as an HA workload would.
	SpreadSites bool
}

// Workloads are the demo's applications.
var Workloads = []Workload{
	{Name: "live-ingest", What: "live-stream ingest for Zhejiang Telecom viewers", Demand: "zhejiang-telecom", SLO: "8ms"},
	{Name: "game-server", What: "cloud gaming for China Mobile players in Sichuan and Chongqing", Demand: "sichuan-cmcc:70,chongqing-cmcc:30", SLO: "12ms"},
	{Name: "cdn-cache", What: "a CDN cache Deployment, 3 replicas, for Unicom users across the south", Replicas: 3,
		Demand: "guangdong-unicom:25,fujian-unicom:15,guangxi-unicom:15,hainan-unicom:10,yunnan-unicom:15,sichuan-unicom:20"},
	{Name: "video-transcode", What: "bandwidth-heavy transcoding for the Yangtze delta, 600 Mbps out", Demand: "jiangsu-telecom:50,shanghai-telecom:50", EgressMbps: 600},
	{Name: "iot-gateway", What: "IoT gateway for the north-east", Demand: "heilongjiang-telecom:50,jilin-telecom:50"},
	{Name: "ar-assist", What: "AR assistance with an SLO no site can meet", Demand: "xinjiang-telecom", SLO: "1ms"},
}

// users is one demand landmark of a workload: the site standing for its
// population, and its share of the workload's users.
type users struct {
	site  synthetic.Site
	share float64
}

// demandOf resolves a workload's demand to populations.
func demandOf(w Workload) ([]users, error) {
	demand, err := intent.ParseDemand(w.Demand, intent.Options{DefaultWeight: 1, MaxLandmarks: 64})
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", w.Name, err)
	}
	byName := map[string]synthetic.Site{}
	for _, s := range synthetic.Sites() {
		byName[s.Population()] = s
	}
	var total float64
	for _, d := range demand {
		total += float64(d.Weight)
	}
	var out []users
	for _, d := range demand {
		s, ok := byName[d.Landmark]
		if !ok {
			return nil, fmt.Errorf("workload %s: no population %q", w.Name, d.Landmark)
		}
		out = append(out, users{site: s, share: float64(d.Weight) / total})
	}
	return out, nil
}

func (w Workload) slo() (time.Duration, bool) {
	if w.SLO == "" {
		return 0, false
	}
	d, err := time.ParseDuration(w.SLO)
	return d, err == nil
}

// provinces are the provinces a set of workloads serves.
func provinces(ws []Workload) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range ws {
		for _, part := range strings.Split(w.Demand, ",") {
			name, _, _ := strings.Cut(part, ":")
			province := name[:strings.LastIndex(name, "-")]
			if !seen[province] {
				seen[province] = true
				out = append(out, province)
			}
		}
	}
	return out
}
