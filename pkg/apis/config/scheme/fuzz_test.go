package scheme

import (
	"testing"
)

// FuzzArgs: arbitrary plugin args decode to valid, defaulted args or to an
// error, never a panic.
func FuzzArgs(f *testing.F) {
	f.Add(`{"measurementTTL":"5m","defaultPercentile":"p90"}`)
	f.Add(`{"measurementTTL":"-5m"}`)
	f.Add(`{"scoreWindowPercent":1e400}`)
	f.Add(`{"zones":[{"name":"a","pricePerMbps":"NaN"}]}`)
	f.Add(`{"zones":[{"name":"a","pricePerMbps":"1e400"}],"defaultPricePerMbps":"-1"}`)
	f.Add(`{"unknownField":true}`)
	f.Fuzz(func(t *testing.T, raw string) {
		if args, err := NetworkLatencyArgs(unknown(raw)); err == nil {
			if args.MeasurementTTL.Duration <= 0 || args.MaxDemandLandmarks <= 0 {
				t.Fatalf("accepted %+v", args)
			}
		}
		if args, err := BandwidthCostArgs(unknown(raw)); err == nil {
			for _, z := range args.Zones {
				if z.PricePerMbps.Sign() < 0 {
					t.Fatalf("accepted a negative price in %+v", z)
				}
			}
		}
	})
}
