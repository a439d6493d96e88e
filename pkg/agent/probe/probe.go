// Package probe measures round-trip times from this node to landmarks and
// summarises them: protocol probers behind one interface (Prober), a
// bounded sliding window per landmark (Window), the policy that decides
// when a summary is worth writing (WritePolicy), and the Agent that runs
// them on a budget and publishes the node's NodeNetwork.
//
// A probe that is refused, times out or fails in any other way is a loss,
// never an RTT sample: a dead landmark must look lost, not fast.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
)

// Prober measures one landmark address. Probe returns the RTT of one
// round trip or an error; it honours the context's deadline. Close releases
// any connection it holds. A Prober is used by one goroutine at a time.
type Prober interface {
	Probe(ctx context.Context) (time.Duration, error)
	Close() error
}

// ErrUnsupported says a protocol cannot run on this host (for example ping
// sockets that net.ipv4.ping_group_range does not allow).
var ErrUnsupported = errors.New("protocol unavailable on this host")

// payloadSize is the size of echo requests: small enough for one packet on
// any path, large enough to carry a sequence number and a token.
const payloadSize = 32

// NewProber returns the prober for a landmark protocol and one of its
// addresses ("host:port", or a bare host for icmp). A non-nil source binds
// the probes to that local address: nodes with one uplink per carrier
// measure each uplink that way.
func NewProber(protocol v1alpha1.LandmarkProtocol, address string, source net.IP) (Prober, error) {
	switch protocol {
	case v1alpha1.ProtocolTCPEcho, "":
		return &tcpEcho{echoConn{address: address, dialer: dialer(source, "tcp")}}, nil
	case v1alpha1.ProtocolTCPConnect:
		return &tcpConnect{address: address, dialer: dialer(source, "tcp")}, nil
	case v1alpha1.ProtocolUDPEcho:
		return &udpEcho{echoConn{address: address, dialer: dialer(source, "udp")}}, nil
	case v1alpha1.ProtocolICMP:
		return newICMPEcho(address, source)
	default:
		return nil, fmt.Errorf("spec.protocol: unsupported value %q", protocol)
	}
}

func dialer(source net.IP, network string) *net.Dialer {
	d := &net.Dialer{}
	if source != nil {
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: source}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: source}
		}
	}
	return d
}

// deadline is the context's deadline, or a short one if it has none, so that
// no socket operation can block forever.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(5 * time.Second)
}
