package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		in      string
		want    responder.Options
		wantErr string
	}{
		{in: "tcp://:7007", want: responder.Options{Network: "tcp", Address: ":7007"}},
		{in: "udp://127.0.0.1:7101?delay=20ms", want: responder.Options{Network: "udp", Address: "127.0.0.1:7101", Delay: 20 * time.Millisecond}},
		{in: "tcp://127.0.0.1:0?delay=20ms&delay-from=127.0.0.12=5ms&delay-from=::1=1s", want: responder.Options{
			Network: "tcp", Address: "127.0.0.1:0", Delay: 20 * time.Millisecond,
			DelayBySource: map[netip.Addr]time.Duration{netip.MustParseAddr("127.0.0.12"): 5 * time.Millisecond, netip.MustParseAddr("::1"): time.Second},
		}},
		{in: "tcp://:1?delay-from=nowhere=5ms", wantErr: `delay-from "nowhere=5ms": want SOURCE-IP=DURATION`},
		{in: "sctp://:1", wantErr: `network "sctp": want tcp or udp`},
		{in: "tcp://:1?delay=soon", wantErr: `delay "soon"`},
		{in: "tcp://:1?delay=-1s", wantErr: `delay "-1s"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseListen(tc.in)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
