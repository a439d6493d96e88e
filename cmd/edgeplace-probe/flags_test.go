package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"
)

// TestParseFlags: the command line reads as it did under component-base's
// command runner.
func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o options, cl commandLine)
		wantErr string
	}{
		{name: "underscores mean dashes", args: []string{"--node_name=n1", "--probe_interval=7s"}, check: func(t *testing.T, o options, _ commandLine) {
			assert.Equal(t, "n1", o.nodeName)
			assert.Equal(t, 7*time.Second, o.probe.ProbeInterval)
		}},
		{name: "-h", args: []string{"-h"}, check: func(t *testing.T, _ options, cl commandLine) {
			assert.True(t, cl.help)
			assert.Contains(t, cl.usage, "--node-name")
			assert.Contains(t, cl.usage, "-h, --help")
		}},
		{name: "--version", args: []string{"--version"}, check: func(t *testing.T, _ options, cl commandLine) { assert.True(t, cl.version) }},
		{name: "log flush frequency", args: []string{"--log-flush-frequency=2s"}, check: func(t *testing.T, _ options, cl commandLine) {
			assert.Equal(t, 2*time.Second, cl.flushEvery)
		}},
		{name: "the default flush frequency", args: nil, check: func(t *testing.T, _ options, cl commandLine) {
			assert.Equal(t, 5*time.Second, cl.flushEvery)
		}},
		{name: "klog verbosity", args: []string{"-v=4", "--vmodule=site=5"}, check: func(t *testing.T, _ options, _ commandLine) {
			assert.True(t, bool(klog.V(4).Enabled()))
		}},
		{name: "a stray argument", args: []string{"--node-name=n1", "extra"}, wantErr: `unexpected arguments ["extra"]`},
		{name: "an unknown flag", args: []string{"--bogus"}, wantErr: "unknown flag: --bogus"},
		{name: "a bad value names the flag", args: []string{"--budget=x"}, wantErr: `invalid argument "x" for "--budget" flag`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, cl, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, o, cl)
		})
	}
}
