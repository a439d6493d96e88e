// Command edgeplace-responder answers edgeplace probes at a landmark: TCP
// and UDP echo, rate-limited per source, never replying with more than it
// received.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/agent/responder"
	"github.com/edgeplace/edgeplace/pkg/version"
)

func main() {
	var (
		listen     []string
		rate       float64
		burst      int
		maxSources int
	)
	cmd := &cobra.Command{
		Use:     "edgeplace-responder",
		Version: version.Get().String(),
		Short:   "Answer edgeplace probes (tcp-echo, udp-echo) at a landmark",
		Example: `  edgeplace-responder --listen tcp://:7007 --listen udp://:7007
  # tests: a listener 20ms away, and 5ms away from probes sent from 127.0.0.12
  edgeplace-responder --listen 'tcp://127.0.0.1:7101?delay=20ms&delay-from=127.0.0.12=5ms'`,
		SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			var opts []responder.Options
			for _, l := range listen {
				o, err := parseListen(l)
				if err != nil {
					return err
				}
				o.PerSourceRate, o.PerSourceBurst, o.MaxSources = rate, burst, maxSources
				opts = append(opts, o)
			}
			if len(opts) == 0 {
				return errors.New("--listen: at least one listener is required")
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			var listeners []*responder.Listener
			for _, o := range opts {
				l, err := responder.Listen(o)
				if err != nil {
					return fmt.Errorf("--listen %s://%s: %w", o.Network, o.Address, err)
				}
				klog.InfoS("Listening", "network", o.Network, "address", l.Addr().String(), "delay", o.Delay)
				listeners = append(listeners, l)
			}
			<-ctx.Done()
			for _, l := range listeners {
				l.Close()
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "a listener as network://host:port[?delay=DURATION[&delay-from=SOURCE-IP=DURATION]...], network tcp or udp; repeatable")
	cmd.Flags().Float64Var(&rate, "per-source-rate", 50, "replies per second to one source address")
	cmd.Flags().IntVar(&burst, "per-source-burst", 20, "burst of replies to one source address")
	cmd.Flags().IntVar(&maxSources, "max-sources", 100_000, "source addresses tracked for rate limiting")
	os.Exit(cli.Run(cmd))
}

// parseListen reads "tcp://:7007" or "udp://127.0.0.1:7101?delay=20ms".
func parseListen(s string) (responder.Options, error) {
	u, err := url.Parse(s)
	if err != nil {
		return responder.Options{}, fmt.Errorf("--listen %q: %w", s, err)
	}
	if u.Scheme != "tcp" && u.Scheme != "udp" {
		return responder.Options{}, fmt.Errorf("--listen %q: network %q: want tcp or udp", s, u.Scheme)
	}
	o := responder.Options{Network: u.Scheme, Address: u.Host}
	duration := func(key, v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("--listen %q: %s %q: want a non-negative duration such as 20ms", s, key, v)
		}
		return d, nil
	}
	q := u.Query()
	if v := q.Get("delay"); v != "" {
		if o.Delay, err = duration("delay", v); err != nil {
			return responder.Options{}, err
		}
	}
	for _, v := range q["delay-from"] {
		ip, d, ok := strings.Cut(v, "=")
		addr, perr := netip.ParseAddr(ip)
		if !ok || perr != nil {
			return responder.Options{}, fmt.Errorf("--listen %q: delay-from %q: want SOURCE-IP=DURATION", s, v)
		}
		if o.DelayBySource == nil {
			o.DelayBySource = map[netip.Addr]time.Duration{}
		}
		if o.DelayBySource[addr], err = duration("delay-from", d); err != nil {
			return responder.Options{}, err
		}
	}
	return o, nil
}
