package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"time"
)

// udpEcho sends a datagram carrying a random token and waits for the same
// bytes back. Replies to earlier, timed-out probes carry other tokens and
// are skipped, so a late reply is never taken for the current one.
type udpEcho struct{ echoConn }

func (p *udpEcho) Probe(ctx context.Context) (time.Duration, error) {
	if err := p.connect(ctx, "udp"); err != nil {
		return 0, err
	}
	req, resp := p.buf[0][:], p.buf[1][:]
	if _, err := rand.Read(req); err != nil {
		return 0, err
	}
	if err := p.conn.SetDeadline(deadline(ctx)); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := p.conn.Write(req); err != nil {
		p.Close() // for example ICMP port unreachable reported on a connected socket
		return 0, err
	}
	for {
		n, err := p.conn.Read(resp)
		if err != nil {
			p.Close()
			return 0, err
		}
		if n == len(req) && bytes.Equal(req, resp[:n]) {
			return time.Since(start), nil
		}
	}
}
