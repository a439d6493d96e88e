package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// icmpEcho pings through an unprivileged ping socket (Linux "udp4"/"udp6"
// ICMP sockets), which needs no capability, only a group id inside
// net.ipv4.ping_group_range. Where that is not allowed, NewProber fails
// with ErrUnsupported, so the agent reports the landmark as unmeasurable
// instead of retrying forever.
type icmpEcho struct {
	host  string
	dest  *net.UDPAddr
	conn  *icmp.PacketConn
	proto int
	echo  icmp.Type
	reply icmp.Type
	seq   int
	buf   [1500]byte
}

func newICMPEcho(host string, source net.IP) (Prober, error) {
	ip, err := net.ResolveIPAddr("ip", host)
	if err != nil {
		return nil, fmt.Errorf("icmp %s: %w", host, err)
	}
	p := &icmpEcho{host: host, dest: &net.UDPAddr{IP: ip.IP, Zone: ip.Zone}}
	network, listen := "udp4", "0.0.0.0"
	p.proto, p.echo, p.reply = 1, ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if ip.IP.To4() == nil {
		network, listen = "udp6", "::"
		p.proto, p.echo, p.reply = 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	if source != nil {
		listen = source.String()
	}
	c, err := icmp.ListenPacket(network, listen)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("icmp %s: ping sockets not permitted (see net.ipv4.ping_group_range): %w", host, ErrUnsupported)
		}
		return nil, fmt.Errorf("icmp %s: %w", host, err)
	}
	p.conn = c
	return p, nil
}

func (p *icmpEcho) Probe(ctx context.Context) (time.Duration, error) {
	p.seq = (p.seq + 1) & 0xffff
	token := make([]byte, payloadSize)
	if _, err := rand.Read(token); err != nil {
		return 0, err
	}
	// The kernel sets the identifier of ping-socket echoes to the socket's
	// port; the sequence number and token tell our replies apart.
	msg := icmp.Message{Type: p.echo, Body: &icmp.Echo{Seq: p.seq, Data: token}}
	wire, err := msg.Marshal(nil)
	if err != nil {
		return 0, err
	}
	if err := p.conn.SetDeadline(deadline(ctx)); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := p.conn.WriteTo(wire, p.dest); err != nil {
		return 0, err
	}
	for {
		n, _, err := p.conn.ReadFrom(p.buf[:])
		if err != nil {
			return 0, err
		}
		reply, err := icmp.ParseMessage(p.proto, p.buf[:n])
		if err != nil || reply.Type != p.reply {
			continue
		}
		if e, ok := reply.Body.(*icmp.Echo); ok && e.Seq == p.seq && bytes.Equal(e.Data, token) {
			return time.Since(start), nil
		}
	}
}

func (p *icmpEcho) Close() error { return p.conn.Close() }
