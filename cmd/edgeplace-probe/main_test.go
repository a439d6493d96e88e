package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidate(t *testing.T) {
	valid := func() options {
		o := defaultOptions()
		o.nodeName = "n1"
		return o
	}
	tests := []struct {
		name    string
		change  func(*options)
		wantErr string
	}{
		{name: "defaults", change: func(*options) {}},
		{name: "no node", change: func(o *options) { o.nodeName = "" }, wantErr: "--node-name: required"},
		{name: "zero interval", change: func(o *options) { o.probe.ProbeInterval = 0 }, wantErr: "--probe-interval: invalid value 0s"},
		{name: "budget", change: func(o *options) { o.probe.Budget = -1 }, wantErr: "--budget: invalid value -1"},
		{name: "window", change: func(o *options) { o.probe.WindowSize = 0 }, wantErr: "--window-size: invalid value 0"},
		{name: "min samples", change: func(o *options) { o.probe.MinSamples = 100 }, wantErr: "--min-samples: invalid value 100"},
		{name: "heartbeat", change: func(o *options) { o.policy.Heartbeat = o.policy.Interval / 2 }, wantErr: "--heartbeat: invalid value 15s: must be at least --write-interval (30s)"},
		{name: "source", change: func(o *options) { o.sourceIP = "eth0" }, wantErr: `--source-ip: invalid value "eth0"`},
		{name: "egress", change: func(o *options) { o.egressMbps = -5 }, wantErr: "--egress-mbps: invalid value -5"},
		{name: "follower slowdown", change: func(o *options) { o.slowdown = 5 }, wantErr: "--follower-slowdown: invalid value 5: must be at least 10"},
		{name: "site lease", change: func(o *options) { o.siteLease = 0 }, wantErr: "--site-lease-duration: invalid value 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			err := o.validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}
