package topology

import (
	"strings"
	"testing"
)

// FuzzFromLabels: any labels give a location, never a panic, and a parsed
// carrier is always one of the normalised names.
func FuzzFromLabels(f *testing.F) {
	f.Add("cn-hangzhou-telecom", "zhejiang", "hangzhou", "telecom", "ens", "pool-a")
	f.Add("cn-beijing-multiCarrier", "", "", "", "cdn", "")
	f.Add("--", "x", "", "CMCC", "ENS", "a/b")
	f.Add(strings.Repeat("cn-", 100), "", "", "unicom ", "", "")
	f.Fuzz(func(t *testing.T, region, province, city, carrier, nodeType, pool string) {
		loc := FromLabels(map[string]string{
			RegionLabel: region, ZoneLabel: region + "-a", ProvinceLabel: province, CityLabel: city,
			CarrierLabel: carrier, NodeTypeLabel: nodeType, "apps.openyurt.io/nodepool": pool,
		})
		switch loc.Carrier {
		case "", "telecom", "unicom", "cmcc", Multi:
		default:
			t.Fatalf("carrier %q from labels %q/%q", loc.Carrier, region, carrier)
		}
		if id, ok := ParseENSID(region); ok && id.City == "" {
			t.Fatalf("ENS id %q parsed with no city", region)
		}
	})
}
