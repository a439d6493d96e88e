package responder

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func start(t *testing.T, o Options) *Listener {
	t.Helper()
	o.Address = "127.0.0.1:0"
	l, err := Listen(o)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// exchange sends req and returns what comes back within the timeout (nil
// for nothing).
func exchange(t *testing.T, c net.Conn, req []byte, timeout time.Duration) []byte {
	t.Helper()
	_, err := c.Write(req)
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestEchoNeverAmplifies(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			l := start(t, Options{Network: network, PerSourceRate: 1000, PerSourceBurst: 1000})
			c, err := net.Dial(network, l.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			for _, size := range []int{1, 32, 1400} {
				req := bytes.Repeat([]byte{byte(size)}, size)
				assert.Equal(t, req, exchange(t, c, req, time.Second), "size %d", size)
			}
			if network == "udp" {
				// A datagram larger than a reply may be is answered with
				// less, never more.
				big := bytes.Repeat([]byte{7}, 4000)
				got := exchange(t, c, big, time.Second)
				assert.LessOrEqual(t, len(got), len(big))
				assert.Equal(t, maxMessage, len(got))
			}
		})
	}
}

func TestPerSourceRateLimit(t *testing.T) {
	l := start(t, Options{Network: "udp", PerSourceRate: 0.001, PerSourceBurst: 3})
	c, err := net.Dial("udp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	answered := 0
	for range 6 {
		if exchange(t, c, []byte("ping"), 200*time.Millisecond) != nil {
			answered++
		}
	}
	assert.Equal(t, 3, answered, "the burst is answered, the rest dropped")

	tl := start(t, Options{Network: "tcp", PerSourceRate: 0.001, PerSourceBurst: 2})
	tc, err := net.Dial("tcp", tl.Addr().String())
	require.NoError(t, err)
	defer tc.Close()
	assert.NotNil(t, exchange(t, tc, []byte("a"), time.Second))
	assert.NotNil(t, exchange(t, tc, []byte("b"), time.Second))
	assert.Nil(t, exchange(t, tc, []byte("c"), time.Second), "over the rate the connection is closed")
}

func TestDelay(t *testing.T) {
	l := start(t, Options{Network: "tcp", Delay: 30 * time.Millisecond})
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	begin := time.Now()
	require.NotNil(t, exchange(t, c, []byte("x"), time.Second))
	assert.GreaterOrEqual(t, time.Since(begin), 30*time.Millisecond)
	l.SetDelay(0)
	begin = time.Now()
	require.NotNil(t, exchange(t, c, []byte("x"), time.Second))
	assert.Less(t, time.Since(begin), 30*time.Millisecond)
}

func TestSourceLimitersAreBounded(t *testing.T) {
	s := sourceLimiters{rate: 1, burst: 1, max: 10}
	for i := range 1000 {
		s.allow(netipFrom(i))
	}
	assert.LessOrEqual(t, len(s.byIP), 10)
	assert.Equal(t, len(s.byIP), len(s.order))
}

func TestListenRejectsUnknownNetwork(t *testing.T) {
	_, err := Listen(Options{Network: "sctp", Address: "127.0.0.1:0"})
	assert.ErrorContains(t, err, `network: unsupported value "sctp"`)
}

func netipFrom(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestDelayBySource(t *testing.T) {
	near := netip.MustParseAddr("127.0.0.12")
	l := start(t, Options{Network: "udp", Delay: 60 * time.Millisecond, DelayBySource: map[netip.Addr]time.Duration{near: 0}})
	rtt := func(source string) time.Duration {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(source)}}
		c, err := d.Dial("udp", l.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		begin := time.Now()
		require.NotNil(t, exchange(t, c, []byte("x"), time.Second))
		return time.Since(begin)
	}
	assert.GreaterOrEqual(t, rtt("127.0.0.1"), 60*time.Millisecond)
	assert.Less(t, rtt(near.String()), 60*time.Millisecond)

	l.SetSourceDelay(near, 80*time.Millisecond)
	assert.GreaterOrEqual(t, rtt(near.String()), 80*time.Millisecond, "a source's delay changed while serving")
	assert.Less(t, rtt("127.0.0.1"), 80*time.Millisecond)
}
