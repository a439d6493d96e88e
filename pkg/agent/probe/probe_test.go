package probe

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

func listen(t *testing.T, network string, delay time.Duration) *responder.Listener {
	t.Helper()
	l, err := responder.Listen(responder.Options{Network: network, Address: "127.0.0.1:0", Delay: delay, PerSourceRate: 1000, PerSourceBurst: 100})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// freeAddress is a loopback address nothing listens on.
func freeAddress(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func TestProbersAgainstTheResponder(t *testing.T) {
	const delay = 15 * time.Millisecond
	tests := []struct {
		protocol v1alpha1.LandmarkProtocol
		network  string
		// tcp-connect times the handshake, which the responder's delay
		// does not touch.
		delayed bool
	}{
		{v1alpha1.ProtocolTCPEcho, "tcp", true},
		{v1alpha1.ProtocolTCPConnect, "tcp", false},
		{v1alpha1.ProtocolUDPEcho, "udp", true},
	}
	for _, tc := range tests {
		t.Run(string(tc.protocol), func(t *testing.T) {
			l := listen(t, tc.network, delay)
			p, err := NewProber(tc.protocol, l.Addr().String(), nil)
			require.NoError(t, err)
			defer p.Close()
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				rtt, err := p.Probe(ctx)
				cancel()
				require.NoError(t, err, "probe %d", i)
				if tc.delayed {
					assert.GreaterOrEqual(t, rtt, delay)
					assert.Less(t, rtt, delay+200*time.Millisecond)
				} else {
					assert.Less(t, rtt, delay, "a handshake on loopback is fast")
				}
			}

			// A dead landmark is an error, never an RTT.
			l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err = p.Probe(ctx)
			assert.Error(t, err)
		})
	}
}

func TestProbeFailures(t *testing.T) {
	for _, tc := range []struct {
		protocol v1alpha1.LandmarkProtocol
		network  string
	}{
		{v1alpha1.ProtocolTCPEcho, "tcp"},
		{v1alpha1.ProtocolTCPConnect, "tcp"},
		{v1alpha1.ProtocolUDPEcho, "udp"},
	} {
		t.Run(string(tc.protocol)+"/refused", func(t *testing.T) {
			p, err := NewProber(tc.protocol, freeAddress(t, tc.network), nil)
			require.NoError(t, err)
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = p.Probe(ctx)
			assert.Error(t, err)
		})
	}
	t.Run("timeout", func(t *testing.T) {
		l := listen(t, "udp", time.Second)
		p, err := NewProber(v1alpha1.ProtocolUDPEcho, l.Addr().String(), nil)
		require.NoError(t, err)
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = p.Probe(ctx)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	})
	t.Run("unknown protocol", func(t *testing.T) {
		_, err := NewProber("smoke-signal", "x:1", nil)
		assert.ErrorContains(t, err, `spec.protocol: unsupported value "smoke-signal"`)
	})
}

// TestICMP pings loopback through a ping socket where the host allows it
// (net.ipv4.ping_group_range), and otherwise checks the clean refusal.
func TestICMP(t *testing.T) {
	p, err := NewProber(v1alpha1.ProtocolICMP, "127.0.0.1", nil)
	if errors.Is(err, ErrUnsupported) {
		t.Logf("ping sockets unavailable here: %v", err)
		return
	}
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rtt, err := p.Probe(ctx)
	require.NoError(t, err)
	assert.Less(t, rtt, 100*time.Millisecond)
}
