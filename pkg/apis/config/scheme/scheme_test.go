package scheme

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	configv1 "github.com/edgeplace/edgeplace/pkg/apis/config/v1"
)

func unknown(raw string) *runtime.Unknown {
	return &runtime.Unknown{Raw: []byte(raw), ContentType: runtime.ContentTypeJSON}
}

func TestNetworkLatencyArgsDefaults(t *testing.T) {
	want := &config.NetworkLatencyArgs{
		MeasurementTTL:           metav1Duration(5 * time.Minute),
		DefaultPercentile:        config.P90,
		DefaultDemandWeight:      1,
		MaxDemandLandmarks:       64,
		ScoreWindowMin:           metav1Duration(2 * time.Millisecond),
		ScoreWindowPercent:       15,
		RecordDecisions:          true,
		MinCandidates:            100,
		MeasureRequestsPerSecond: 5,
	}
	for name, in := range map[string]runtime.Object{
		"no pluginConfig entry": nil,
		"empty args":            unknown(`{}`),
		"no raw args":           &runtime.Unknown{},
		"versioned":             &configv1.NetworkLatencyArgs{},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := NetworkLatencyArgs(in)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestNetworkLatencyArgsDecoding(t *testing.T) {
	got, err := NetworkLatencyArgs(unknown(`{"measurementTTL":"90s","defaultPercentile":"p50","scoreWindowPercent":0}`))
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, got.MeasurementTTL.Duration)
	assert.Equal(t, config.P50, got.DefaultPercentile)
	assert.Equal(t, int32(0), got.ScoreWindowPercent, "an explicit zero is kept, not defaulted")
	assert.Equal(t, int32(64), got.MaxDemandLandmarks)
	assert.True(t, got.RecordDecisions, "on unless turned off")

	got, err = NetworkLatencyArgs(unknown(`{"recordDecisions":false}`))
	require.NoError(t, err)
	assert.False(t, got.RecordDecisions, "an explicit false is kept, not defaulted")

	got, err = NetworkLatencyArgs(unknown(`{"minCandidates":0}`))
	require.NoError(t, err)
	assert.Equal(t, int32(0), got.MinCandidates, "an explicit zero (no narrowing) is kept, not defaulted")

	got, err = NetworkLatencyArgs(unknown(`{"measureRequestsPerSecond":0}`))
	require.NoError(t, err)
	assert.Equal(t, int32(0), got.MeasureRequestsPerSecond, "an explicit zero (no requests) is kept, not defaulted")

	// The scheduler hands YAML through as well when the file is YAML.
	got, err = NetworkLatencyArgs(&runtime.Unknown{Raw: []byte("measurementTTL: 2m\n"), ContentType: runtime.ContentTypeYAML})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, got.MeasurementTTL.Duration)
}

func TestNetworkLatencyArgsErrorsNameTheField(t *testing.T) {
	tests := map[string]struct {
		raw  string
		want string
	}{
		"negative TTL":     {`{"measurementTTL":"-5m"}`, `args.measurementTTL: Invalid value: "-5m0s"`},
		"huge TTL":         {`{"measurementTTL":"48h"}`, `args.measurementTTL: Invalid value: "48h0m0s": must be greater than 0 and at most 24h0m0s`},
		"bad percentile":   {`{"defaultPercentile":"p99"}`, `args.defaultPercentile: Unsupported value: "p99"`},
		"zero weight":      {`{"defaultDemandWeight":0}`, `args.defaultDemandWeight: Invalid value: 0`},
		"too many":         {`{"maxDemandLandmarks":5000}`, `args.maxDemandLandmarks: Invalid value: 5000`},
		"zero window":      {`{"scoreWindowMin":"0s"}`, `args.scoreWindowMin: Invalid value: "0s"`},
		"negative percent": {`{"scoreWindowPercent":-1}`, `args.scoreWindowPercent: Invalid value: -1`},
		"negative floor":   {`{"minCandidates":-1}`, `args.minCandidates: Invalid value: -1: must be between 0 and 100000`},
		"request flood":    {`{"measureRequestsPerSecond":5000}`, `args.measureRequestsPerSecond: Invalid value: 5000: must be between 0 and 1000`},
		"unknown field":    {`{"measurmentTTL":"5m"}`, `unknown field "measurmentTTL"`},
		"wrong type":       {`{"maxDemandLandmarks":"many"}`, `maxDemandLandmarks`},
		"not a duration":   {`{"measurementTTL":"5 minutes"}`, `measurementTTL`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NetworkLatencyArgs(unknown(tt.raw))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func metav1Duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }
