package evaluate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// SiteColumns names the columns of a site metadata CSV. Lat and Lon, when
// named, place each site for the plot; Price, when named, is the monthly
// price of one Mbps of egress at the site, for the bandwidth cost.
type SiteColumns struct {
	ID, Lat, Lon, Price string
}

// Site is what the metadata says about one place.
type Site struct {
	Lat, Lon    float64
	HasLocation bool
	Price       float64
	HasPrice    bool
}

// LoadSites reads site metadata: a CSV (gzip accepted) with a header naming
// the columns. Every value is checked, and an error names its line, column
// and value.
func LoadSites(r io.Reader, cols SiteColumns) (map[string]Site, error) {
	br, err := gunzipped(r)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	at := map[string]int{}
	for i, h := range header {
		at[strings.TrimSpace(h)] = i
	}
	column := func(flag, name string, required bool) (int, error) {
		if name == "" && !required {
			return -1, nil
		}
		i, ok := at[name]
		if !ok {
			return 0, fmt.Errorf("%s: no column %q in the header %q", flag, name, strings.Join(header, ","))
		}
		return i, nil
	}
	var idx [4]int
	for k, c := range []struct {
		flag, name string
		required   bool
	}{{"--site-id-col", cols.ID, true}, {"--lat-col", cols.Lat, false}, {"--lon-col", cols.Lon, false}, {"--price-col", cols.Price, false}} {
		if idx[k], err = column(c.flag, c.name, c.required); err != nil {
			return nil, err
		}
	}
	if (idx[1] < 0) != (idx[2] < 0) {
		return nil, errors.New("--lat-col and --lon-col: name both or neither")
	}
	sites := map[string]Site{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		field := func(k int) (string, error) {
			if idx[k] >= len(rec) {
				return "", fmt.Errorf("line %d: %d fields, want at least %d", line, len(rec), idx[k]+1)
			}
			return strings.TrimSpace(rec[idx[k]]), nil
		}
		number := func(k int, name string, lo, hi float64) (float64, error) {
			s, err := field(k)
			if err != nil {
				return 0, err
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || v < lo || v > hi {
				return 0, fmt.Errorf("line %d: column %q: invalid value %q: want a number in %g..%g", line, name, s, lo, hi)
			}
			return v, nil
		}
		id, err := field(0)
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, fmt.Errorf("line %d: column %q: empty site id", line, cols.ID)
		}
		if _, dup := sites[id]; dup {
			return nil, fmt.Errorf("line %d: column %q: site %q appears twice", line, cols.ID, id)
		}
		var s Site
		if idx[1] >= 0 {
			if s.Lat, err = number(1, cols.Lat, -90, 90); err != nil {
				return nil, err
			}
			if s.Lon, err = number(2, cols.Lon, -180, 180); err != nil {
				return nil, err
			}
			s.HasLocation = true
		}
		if idx[3] >= 0 {
			if s.Price, err = number(3, cols.Price, 0, 1e9); err != nil {
				return nil, err
			}
			s.HasPrice = true
		}
		sites[id] = s
	}
	if len(sites) == 0 {
		return nil, errors.New("no data rows")
	}
	return sites, nil
}
