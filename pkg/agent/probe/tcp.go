package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"time"
)

// tcpEcho times a small echo over an established connection, so that the
// handshake is not part of the RTT. A failed probe drops the connection and
// the next one reconnects.
type tcpEcho struct{ echoConn }

func (p *tcpEcho) Probe(ctx context.Context) (time.Duration, error) {
	if err := p.connect(ctx, "tcp"); err != nil {
		return 0, err
	}
	rtt, err := p.echo(ctx)
	if err != nil {
		p.Close()
	}
	return rtt, err
}

func (p *tcpEcho) echo(ctx context.Context) (time.Duration, error) {
	req, resp := p.buf[0][:], p.buf[1][:]
	if _, err := rand.Read(req); err != nil {
		return 0, err
	}
	if err := p.conn.SetDeadline(deadline(ctx)); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := p.conn.Write(req); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(p.conn, resp); err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	if !bytes.Equal(req, resp) {
		return 0, fmt.Errorf("tcp-echo %s: the reply does not match the request", p.address)
	}
	return rtt, nil
}

// tcpConnect times the TCP handshake, for landmarks that are plain TCP
// services. The connection is closed at once.
type tcpConnect struct {
	address string
	dialer  *net.Dialer
}

func (p *tcpConnect) Probe(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	c, err := p.dialer.DialContext(ctx, "tcp", p.address)
	if err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	c.Close()
	return rtt, nil
}

func (p *tcpConnect) Close() error { return nil }

// echoConn is the connection an echo prober keeps between probes, and its
// request and reply buffers.
type echoConn struct {
	address string
	dialer  *net.Dialer
	conn    net.Conn
	buf     [2][payloadSize]byte
}

// connect dials if there is no connection (the first probe, or the one
// after a failure).
func (c *echoConn) connect(ctx context.Context, network string) error {
	if c.conn != nil {
		return nil
	}
	conn, err := c.dialer.DialContext(ctx, network, c.address)
	if err != nil {
		return err
	}
	c.conn = conn
	return nil
}

func (c *echoConn) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
