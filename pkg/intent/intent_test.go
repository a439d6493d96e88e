package intent

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

var opts = Options{DefaultPercentile: config.P90, DefaultWeight: 1, MaxLandmarks: 4}

func pod(annotations map[string]string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: annotations}}
}

func TestFromPod(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        *Intent
		wantErr     string // substring of the error; "" for none
	}{
		{name: "no annotations", annotations: nil, want: nil},
		{name: "unrelated annotations", annotations: map[string]string{"team": "cdn"}, want: nil},
		{
			name:        "weighted demand sorted by landmark",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "zhejiang-telecom:60, jiangsu-unicom:40"},
			want: &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, Demand: []Demand{
				{Landmark: "jiangsu-unicom", Weight: 40}, {Landmark: "zhejiang-telecom", Weight: 60},
			}},
		},
		{
			name:        "weight defaults",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, Demand: []Demand{{Landmark: "a", Weight: 1}}},
		},
		{
			name:        "SLO and percentile",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a:2", v1alpha1.MaxRTTAnnotation: "25ms", v1alpha1.PercentileAnnotation: "p50"},
			want:        &Intent{Percentile: config.P50, Estimates: EstimatesPeers, MaxCost: -1, MaxRTT: 25 * time.Millisecond, Demand: []Demand{{Landmark: "a", Weight: 2}}},
		},
		{
			name:        "fractional SLO",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "1.5ms"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, MaxRTT: 1500 * time.Microsecond, Demand: []Demand{{Landmark: "a", Weight: 1}}},
		},
		{
			name:        "loss and jitter bounds",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: " 0.5% ", v1alpha1.MaxJitterAnnotation: "5ms"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, MaxLossPPM: 5000, MaxJitter: 5 * time.Millisecond, Demand: []Demand{{Landmark: "a", Weight: 1}}},
		},
		{
			name:        "the smallest loss bound is one part per million",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: "0.00001%"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, MaxLossPPM: 1, Demand: []Demand{{Landmark: "a", Weight: 1}}},
		},
		{name: "loss without a percent sign", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: "0.01"}, wantErr: `edgeplace.io/max-loss="0.01": must be a percentage`},
		{name: "zero loss", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: "0%"}, wantErr: `edgeplace.io/max-loss="0%": must be a percentage greater than 0`},
		{name: "loss over 100%", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: "101%"}, wantErr: `edgeplace.io/max-loss="101%"`},
		{name: "NaN loss", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxLossAnnotation: "NaN%"}, wantErr: `edgeplace.io/max-loss="NaN%"`},
		{name: "jitter without unit", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxJitterAnnotation: "5"}, wantErr: `edgeplace.io/max-jitter="5": must be a duration with a unit`},
		{name: "negative jitter", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxJitterAnnotation: "-1ms"}, wantErr: `edgeplace.io/max-jitter="-1ms": must be greater than 0`},
		{name: "loss without demand", annotations: map[string]string{v1alpha1.MaxLossAnnotation: "1%"}, wantErr: `edgeplace.io/max-loss="1%": needs edgeplace.io/demand`},
		{name: "jitter without demand", annotations: map[string]string{v1alpha1.MaxJitterAnnotation: "5ms"}, wantErr: `edgeplace.io/max-jitter="5ms": needs edgeplace.io/demand`},
		{name: "SLO without demand", annotations: map[string]string{v1alpha1.MaxRTTAnnotation: "25ms"}, wantErr: "edgeplace.io/max-rtt=\"25ms\": needs edgeplace.io/demand"},
		{name: "percentile without demand", annotations: map[string]string{v1alpha1.PercentileAnnotation: "p90"}, wantErr: "edgeplace.io/rtt-percentile=\"p90\": needs"},
		{name: "non-numeric weight", annotations: map[string]string{v1alpha1.DemandAnnotation: "a:abc"}, wantErr: `weight "abc" of landmark "a" must be a whole number`},
		{name: "zero weight", annotations: map[string]string{v1alpha1.DemandAnnotation: "a:0"}, wantErr: `weight "0"`},
		{name: "negative weight", annotations: map[string]string{v1alpha1.DemandAnnotation: "a:-5"}, wantErr: `weight "-5"`},
		{name: "huge weight", annotations: map[string]string{v1alpha1.DemandAnnotation: "a:1e400"}, wantErr: `weight "1e400"`},
		{name: "empty entry", annotations: map[string]string{v1alpha1.DemandAnnotation: "a,,b"}, wantErr: "empty entry"},
		{name: "empty demand", annotations: map[string]string{v1alpha1.DemandAnnotation: ""}, wantErr: "empty entry"},
		{name: "duplicate landmark", annotations: map[string]string{v1alpha1.DemandAnnotation: "a:1,b,a:2"}, wantErr: `lists landmark "a" twice`},
		{name: "bad landmark name", annotations: map[string]string{v1alpha1.DemandAnnotation: "Zhe Jiang"}, wantErr: `landmark name "Zhe Jiang" is not a valid object name`},
		{name: "too many landmarks", annotations: map[string]string{v1alpha1.DemandAnnotation: "a,b,c,d,e"}, wantErr: "lists 5 landmarks, more than the limit of 4"},
		{name: "SLO without unit", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "25"}, wantErr: `max-rtt="25": must be a duration with a unit`},
		{name: "SLO NaN", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "NaN"}, wantErr: "must be a duration"},
		{name: "SLO zero", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "0ms"}, wantErr: "must be greater than 0"},
		{name: "SLO negative", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "-3ms"}, wantErr: "must be greater than 0"},
		{name: "SLO huge", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.MaxRTTAnnotation: "2h"}, wantErr: "at most 1m0s"},
		{name: "bad percentile", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.PercentileAnnotation: "p99"}, wantErr: `must be "p50" or "p90"`},
		{
			name: "location constraints alone",
			annotations: map[string]string{
				v1alpha1.CarriersAnnotation: "China-Telecom, unicom,telecom", v1alpha1.ForbiddenProvincesAnnotation: "Xinjiang", v1alpha1.NodeTypesAnnotation: "ENS",
			},
			want: &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, Carriers: []string{"telecom", "unicom"}, ForbiddenProvinces: []string{"xinjiang"}, NodeTypes: []string{"ens"}},
		},
		{
			name:        "location constraints with demand",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.ForbiddenCarriersAnnotation: "mobile"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1, Demand: []Demand{{Landmark: "a", Weight: 1}}, ForbiddenCarriers: []string{"cmcc"}},
		},
		{name: "unknown carrier", annotations: map[string]string{v1alpha1.CarriersAnnotation: "telecom,satellite"}, wantErr: `carriers="telecom,satellite": "satellite" is not a carrier`},
		{name: "bad province", annotations: map[string]string{v1alpha1.ProvincesAnnotation: "zhe jiang"}, wantErr: `"zhe jiang" is not a province name`},
		{name: "bad node type", annotations: map[string]string{v1alpha1.NodeTypesAnnotation: "vm"}, wantErr: `"vm" is not "ens" or "cdn"`},
		{
			name:        "estimate policy",
			annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.EstimatesAnnotation: "coordinates"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesCoordinates, MaxCost: -1, Demand: []Demand{{Landmark: "a", Weight: 1}}},
		},
		{name: "bad estimate policy", annotations: map[string]string{v1alpha1.DemandAnnotation: "a", v1alpha1.EstimatesAnnotation: "guess"}, wantErr: `must be "none", "peers" or "coordinates"`},
		{name: "estimate policy without demand", annotations: map[string]string{v1alpha1.EstimatesAnnotation: "none"}, wantErr: "needs edgeplace.io/demand"},
		{
			name:        "egress and cost ceiling alone",
			annotations: map[string]string{v1alpha1.EgressAnnotation: "1.5Gbps", v1alpha1.MaxCostAnnotation: "40"},
			want:        &Intent{Percentile: config.P90, Estimates: EstimatesPeers, EgressMbps: 1500, MaxCost: 40},
		},
		{name: "egress without unit", annotations: map[string]string{v1alpha1.EgressAnnotation: "200"}, wantErr: `egress="200": must be a bandwidth with a unit`},
		{name: "egress NaN", annotations: map[string]string{v1alpha1.EgressAnnotation: "NaNM"}, wantErr: "must be greater than 0"},
		{name: "egress huge", annotations: map[string]string{v1alpha1.EgressAnnotation: "1e400G"}, wantErr: "must be greater than 0"},
		{name: "negative cost", annotations: map[string]string{v1alpha1.MaxCostAnnotation: "-1"}, wantErr: "must be a number from 0"},
		{name: "dependency without selector", annotations: map[string]string{v1alpha1.DependsOnMaxRTTAnnotation: "5ms"}, wantErr: "needs edgeplace.io/depends-on"},
		{name: "bad selector", annotations: map[string]string{v1alpha1.DependsOnAnnotation: "app in (db"}, wantErr: "must be a non-empty label selector"},
		{name: "bad dependency SLO", annotations: map[string]string{v1alpha1.DependsOnAnnotation: "app=db", v1alpha1.DependsOnMaxRTTAnnotation: "5"}, wantErr: `depends-on-max-rtt="5": must be a duration`},
		{name: "empty carrier list", annotations: map[string]string{v1alpha1.CarriersAnnotation: ""}, wantErr: `"" is not a carrier`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromPod(pod(tt.annotations), opts)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				var perr *Error
				assert.ErrorAs(t, err, &perr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestErrorQuotesLongValuesBriefly(t *testing.T) {
	long := strings.Repeat("x", 10_000) + ":oops"
	_, err := FromPod(pod(map[string]string{v1alpha1.DemandAnnotation: long}), opts)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 400, "the message must not repeat a giant value")
	assert.Contains(t, err.Error(), "(10005 bytes)")
}

func TestChanged(t *testing.T) {
	a := pod(map[string]string{v1alpha1.DemandAnnotation: "a", "other": "1"})
	b := pod(map[string]string{v1alpha1.DemandAnnotation: "a", "other": "2"})
	c := pod(map[string]string{v1alpha1.DemandAnnotation: "b"})
	assert.False(t, Changed(a, b), "an unrelated annotation is not an intent change")
	assert.True(t, Changed(a, c))
}

func TestForPodWithProfile(t *testing.T) {
	profiles := func(ns, name string) (*v1alpha1.LatencyProfile, bool) {
		if ns != "live" || name != "ingest" {
			return nil, false
		}
		return &v1alpha1.LatencyProfile{Spec: v1alpha1.LatencyProfileSpec{
			Demand:     []v1alpha1.DemandEntry{{Landmark: "zhejiang-telecom", Weight: 3}, {Landmark: "jiangsu-telecom"}},
			MaxRTT:     &metav1.Duration{Duration: 25 * time.Millisecond},
			MaxLoss:    "1%",
			MaxJitter:  &metav1.Duration{Duration: 5 * time.Millisecond},
			EgressMbps: 200,
			Carriers:   []v1alpha1.Carrier{"telecom"},
		}}, true
	}
	p := pod(map[string]string{v1alpha1.ProfileAnnotation: "ingest", v1alpha1.MaxRTTAnnotation: "15ms"})
	p.Namespace = "live"
	got, err := ForPod(p, profiles, opts)
	require.NoError(t, err)
	assert.Equal(t, &Intent{
		Percentile: config.P90, Estimates: EstimatesPeers, MaxCost: -1,
		Demand:     []Demand{{Landmark: "jiangsu-telecom", Weight: 1}, {Landmark: "zhejiang-telecom", Weight: 3}},
		MaxRTT:     15 * time.Millisecond, // the pod's annotation overrides the profile
		MaxLossPPM: 10_000, MaxJitter: 5 * time.Millisecond,
		EgressMbps: 200, Carriers: []string{"telecom"},
	}, got)

	p.Namespace = "other"
	_, err = ForPod(p, profiles, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `annotation edgeplace.io/latency-profile="ingest": no LatencyProfile of that name in namespace "other"`)
}

func TestDependency(t *testing.T) {
	in, err := FromPod(pod(map[string]string{v1alpha1.DependsOnAnnotation: "app=db,tier=primary", v1alpha1.DependsOnWeightAnnotation: "5", v1alpha1.DependsOnMaxRTTAnnotation: "4ms"}), opts)
	require.NoError(t, err)
	assert.Equal(t, "app=db,tier=primary", in.DependsOn.String())
	assert.EqualValues(t, 5, in.DependsOnWeight)
	assert.Equal(t, 4*time.Millisecond, in.DependsOnMaxRTT)
	assert.Empty(t, in.Demand)
}
