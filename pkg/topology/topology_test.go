package topology

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFromLabels(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   Location
	}{
		{name: "no labels", labels: nil, want: Location{}},
		{
			name:   "ENS region id",
			labels: map[string]string{RegionLabel: "cn-hangzhou-telecom"},
			want:   Location{Region: "cn-hangzhou-telecom", Province: "zhejiang", City: "hangzhou", Carrier: Telecom, Site: "cn-hangzhou-telecom", NodeType: ENS},
		},
		{
			name:   "multi-carrier id with a dashed city",
			labels: map[string]string{SiteLabel: "cn-xi-an-multiCarrier"},
			want:   Location{Province: "shaanxi", City: "xi-an", Carrier: Multi, Site: "cn-xi-an-multiCarrier", NodeType: ENS},
		},
		{
			name: "own labels win over the id",
			labels: map[string]string{
				RegionLabel: "cn-hangzhou-telecom", CarrierLabel: "China-Unicom", ProvinceLabel: "Jiangsu", NodeTypeLabel: "CDN",
			},
			want: Location{Region: "cn-hangzhou-telecom", Province: "jiangsu", City: "hangzhou", Carrier: Unicom, Site: "cn-hangzhou-telecom", NodeType: CDN},
		},
		{
			name:   "OpenYurt node pool named after a site",
			labels: map[string]string{NodePoolLabel: "cn-chengdu-cmcc"},
			want:   Location{Province: "sichuan", City: "chengdu", Carrier: CMCC, Site: "cn-chengdu-cmcc", NodeType: ENS, NodePool: "cn-chengdu-cmcc"},
		},
		{
			name:   "OpenYurt node pool with any name is the site",
			labels: map[string]string{NodePoolLabel: "factory-7", ZoneLabel: "z1"},
			want:   Location{Zone: "z1", Site: "factory-7", NodePool: "factory-7"},
		},
		{
			name:   "cloud region is not an ENS id",
			labels: map[string]string{RegionLabel: "us-east-1", CarrierLabel: "bogus"},
			want:   Location{Region: "us-east-1"},
		},
		{
			name:   "unknown city keeps the carrier",
			labels: map[string]string{SiteLabel: "cn-somewhere-unicom"},
			want:   Location{City: "somewhere", Carrier: Unicom, Site: "cn-somewhere-unicom", NodeType: ENS},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, FromLabels(tt.labels))
		})
	}
}

func TestParseENSID(t *testing.T) {
	for id, ok := range map[string]bool{
		"cn-hangzhou-telecom": true, "CN-Beijing-CMCC": true, "cn-hangzhou": false, "cn--telecom": false,
		"cn-hangzhou-": false, "cn-hangzhou-satellite": false, "hangzhou-telecom": false, "": false,
	} {
		_, got := ParseENSID(id)
		assert.Equal(t, ok, got, id)
	}
}
