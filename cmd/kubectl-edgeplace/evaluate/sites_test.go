package evaluate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSites(t *testing.T) {
	cols := SiteColumns{ID: "id", Lat: "lat", Lon: "lon", Price: "price"}
	tests := []struct {
		name    string
		input   string
		cols    SiteColumns
		want    map[string]Site
		wantErr string
	}{
		{name: "location and price", input: "id,lat,lon,price\neu-west-1,53.35,-6.26,0.09\nus-east-1, 38.9 ,-77.0,0.05\n", cols: cols,
			want: map[string]Site{
				"eu-west-1": {Lat: 53.35, Lon: -6.26, HasLocation: true, Price: 0.09, HasPrice: true},
				"us-east-1": {Lat: 38.9, Lon: -77.0, HasLocation: true, Price: 0.05, HasPrice: true},
			}},
		{name: "location only", input: "name,y,x\nHZ,30.3,120.2\n", cols: SiteColumns{ID: "name", Lat: "y", Lon: "x"},
			want: map[string]Site{"HZ": {Lat: 30.3, Lon: 120.2, HasLocation: true}}},
		{name: "price only", input: "id,price\na,3\n", cols: SiteColumns{ID: "id", Price: "price"},
			want: map[string]Site{"a": {Price: 3, HasPrice: true}}},
		{name: "missing column", input: "id,lat\na,1\n", cols: cols, wantErr: `--lon-col: no column "lon" in the header "id,lat"`},
		{name: "latitude out of range", input: "id,lat,lon,price\na,91,0,1\n", cols: cols, wantErr: `line 2: column "lat": invalid value "91": want a number in -90..90`},
		{name: "NaN price", input: "id,lat,lon,price\na,1,1,NaN\n", cols: cols, wantErr: `line 2: column "price": invalid value "NaN"`},
		{name: "negative price", input: "id,lat,lon,price\na,1,1,-2\n", cols: cols, wantErr: `invalid value "-2"`},
		{name: "duplicate", input: "id,lat,lon,price\na,1,1,1\na,2,2,2\n", cols: cols, wantErr: `line 3: column "id": site "a" appears twice`},
		{name: "short row", input: "id,lat,lon,price\na,1\n", cols: cols, wantErr: "line 2: 2 fields, want at least 3"},
		{name: "empty id", input: "id,lat,lon,price\n ,1,1,1\n", cols: cols, wantErr: "line 2: column \"id\": empty site id"},
		{name: "one of lat and lon", input: "id,lat,lon\na,1,1\n", cols: SiteColumns{ID: "id", Lat: "lat"}, wantErr: "name both or neither"},
		{name: "no rows", input: "id,lat,lon,price\n", cols: cols, wantErr: "no data rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadSites(strings.NewReader(tc.input), tc.cols)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
