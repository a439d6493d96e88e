// Command edgeplace-probe runs on every node (a DaemonSet): it probes every
// Landmark and publishes the node's measured RTT as its NodeNetwork, or,
// in site mode, the site's NodeNetwork from one elected probe per site
// (site.go).
package main

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/edgeplace/edgeplace/pkg/agent/probe"
	"github.com/edgeplace/edgeplace/pkg/agent/probeapi"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/version"
)

type options struct {
	kubeconfig     string
	nodeName       string
	probe          probe.Config
	policy         probe.WritePolicy
	egressMbps     int64
	billingZone    string
	siteMode       bool
	slowdown       int
	siteLease      time.Duration
	divergence     probe.Divergence
	namespace      string
	metricsAddress string
	sourceIP       string
}

func defaultOptions() options {
	return options{probe: probe.DefaultConfig(), policy: probe.DefaultWritePolicy(), egressMbps: -1,
		slowdown: 30, siteLease: 15 * time.Second, divergence: probe.DefaultDivergence()}
}

func main() {
	o, cl, err := parseFlags(os.Args[1:])
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "Error: %v\nRun 'edgeplace-probe --help' for the flags.\n", err)
		os.Exit(1)
	case cl.help:
		fmt.Print(cl.usage)
		os.Exit(0)
	case cl.version:
		fmt.Println("edgeplace-probe version " + version.Get().String())
		os.Exit(0)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	klog.StartFlushDaemon(cl.flushEvery)
	// The standard library's own logs (net/http's among them) go to klog too.
	log.SetFlags(0)
	log.SetOutput(klogWriter{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = o.run(ctx)
	stop()
	if err != nil {
		klog.ErrorS(err, "Exiting")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

// commandLine is what the flags ask for besides the probe's options.
type commandLine struct {
	help, version bool
	flushEvery    time.Duration
	usage         string
}

// parseFlags reads the command line as component-base's commands would:
// --node_name means --node-name, and klog's -v and --vmodule are the only
// logging flags.
func parseFlags(args []string) (options, commandLine, error) {
	o := defaultOptions()
	var cl commandLine
	fs := pflag.NewFlagSet("edgeplace-probe", pflag.ContinueOnError)
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	fs.SetOutput(io.Discard) // the caller prints the error
	o.addFlags(fs)
	fs.BoolVarP(&cl.help, "help", "h", false, "print this help and exit")
	fs.BoolVar(&cl.version, "version", false, "print the version and exit")
	fs.DurationVar(&cl.flushEvery, "log-flush-frequency", 5*time.Second, "longest time between two log flushes")
	logFlags := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(logFlags)
	fs.AddGoFlag(logFlags.Lookup("v"))
	fs.AddGoFlag(logFlags.Lookup("vmodule"))
	cl.usage = "edgeplace-probe measures RTT from this node to every Landmark and publishes it as the node's NodeNetwork.\n\nUsage:\n  edgeplace-probe [flags]\n\nFlags:\n" + fs.FlagUsages()
	if err := fs.Parse(args); err != nil {
		return o, cl, err
	}
	if fs.NArg() > 0 {
		return o, cl, fmt.Errorf("unexpected arguments %q: edgeplace-probe takes flags only", fs.Args())
	}
	return o, cl, nil
}

// klogWriter hands what the standard library's log writes to klog.
type klogWriter struct{}

func (klogWriter) Write(p []byte) (int, error) {
	klog.InfoDepth(4, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// The probe parses its flags with pflag alone: cobra's help templates link
// a template engine, which keeps every exported method of every linked type
// in the binary, and the binary's pages are most of the probe's memory.
func (o *options) addFlags(f *pflag.FlagSet) {
	f.SortFlags = false
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	f.StringVar(&o.nodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name (from the downward API in the DaemonSet)")
	f.DurationVar(&o.probe.ProbeInterval, "probe-interval", o.probe.ProbeInterval, "mean time between two probes of one landmark (jittered by up to 20%)")
	f.DurationVar(&o.probe.Timeout, "probe-timeout", o.probe.Timeout, "a probe not answered within this is a loss")
	f.Float64Var(&o.probe.Budget, "budget", o.probe.Budget, "most probes per second from this node, over all landmarks")
	f.IntVar(&o.probe.WindowSize, "window-size", o.probe.WindowSize, "samples kept per landmark")
	f.IntVar(&o.probe.MinSamples, "min-samples", o.probe.MinSamples, "answered probes a landmark needs in its window before it is published")
	f.DurationVar(&o.probe.WindowAge, "window-age", o.probe.WindowAge, "samples older than this do not count")
	f.DurationVar(&o.policy.Interval, "write-interval", o.policy.Interval, "shortest time between two NodeNetwork writes")
	f.DurationVar(&o.policy.Heartbeat, "heartbeat", o.policy.Heartbeat, "longest time between two writes; keep it well under the scheduler's measurementTTL")
	f.DurationVar(&o.policy.MinChange, "min-change", o.policy.MinChange, "RTT changes up to this are not worth a write")
	f.Float64Var(&o.policy.RelativeChange, "relative-change", o.policy.RelativeChange, "RTT changes up to this fraction of the last written value are not worth a write")
	f.Int64Var(&o.policy.LossChange, "loss-change-ppm", o.policy.LossChange, "loss changes up to this (parts per million) are not worth a write")
	f.Int64Var(&o.egressMbps, "egress-mbps", o.egressMbps, "egress capacity to publish; -1 reads the node's edgeplace.io/egress-mbps capacity")
	f.StringVar(&o.billingZone, "billing-zone", "", "billing zone to publish; empty reads the node's edgeplace.io/billing-zone label")
	f.BoolVar(&o.siteMode, "site-mode", false, "publish the site's NodeNetwork (site-<edgeplace.io/site label>) from one probe per site, elected by a Lease; it and one standby probe at the full rate, the site's other probes sample")
	f.IntVar(&o.slowdown, "follower-slowdown", o.slowdown, "in site mode, a follower (neither the leader nor the standby) probes each landmark this many times less often; at least 10")
	f.DurationVar(&o.divergence.Min, "site-divergence", o.divergence.Min, "in site mode, a node whose median RTT to a landmark differs from its site's by more than this and --site-relative-divergence publishes its own NodeNetwork")
	f.Float64Var(&o.divergence.Relative, "site-relative-divergence", o.divergence.Relative, "the share of the site's median RTT a node must also differ by (see --site-divergence)")
	f.DurationVar(&o.siteLease, "site-lease-duration", o.siteLease, "in site mode, the Leases' duration: a standby takes over within this of its leader's end")
	f.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "edgeplace-system"), "namespace of the site-mode Leases")
	f.StringVar(&o.sourceIP, "source-ip", "", "local address to send probes from (one uplink of a multi-homed node); empty lets the kernel choose")
	f.StringVar(&o.metricsAddress, "metrics-bind-address", ":10361", "address serving /metrics and /healthz; 0 disables")
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func (o *options) validate() error {
	var errs []error
	positive := func(flag string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s: invalid value %s: must be positive", flag, d))
		}
	}
	if o.nodeName == "" {
		errs = append(errs, errors.New("--node-name: required (or set NODE_NAME)"))
	}
	positive("probe-interval", o.probe.ProbeInterval)
	positive("probe-timeout", o.probe.Timeout)
	positive("window-age", o.probe.WindowAge)
	positive("write-interval", o.policy.Interval)
	if o.probe.Budget <= 0 {
		errs = append(errs, fmt.Errorf("--budget: invalid value %g: must be positive", o.probe.Budget))
	}
	if o.probe.WindowSize < 1 || o.probe.WindowSize > 10_000 {
		errs = append(errs, fmt.Errorf("--window-size: invalid value %d: must be 1..10000", o.probe.WindowSize))
	}
	if o.probe.MinSamples < 1 || o.probe.MinSamples > o.probe.WindowSize {
		errs = append(errs, fmt.Errorf("--min-samples: invalid value %d: must be 1..--window-size (%d)", o.probe.MinSamples, o.probe.WindowSize))
	}
	if o.policy.Heartbeat < o.policy.Interval {
		errs = append(errs, fmt.Errorf("--heartbeat: invalid value %s: must be at least --write-interval (%s)", o.policy.Heartbeat, o.policy.Interval))
	}
	if o.slowdown < 10 {
		errs = append(errs, fmt.Errorf("--follower-slowdown: invalid value %d: must be at least 10", o.slowdown))
	}
	if o.siteLease < time.Second {
		errs = append(errs, fmt.Errorf("--site-lease-duration: invalid value %s: must be at least 1s", o.siteLease))
	}
	if o.divergence.Min <= 0 {
		errs = append(errs, fmt.Errorf("--site-divergence: invalid value %s: must be positive", o.divergence.Min))
	}
	if o.divergence.Relative < 0 {
		errs = append(errs, fmt.Errorf("--site-relative-divergence: invalid value %g: must not be negative", o.divergence.Relative))
	}
	if o.policy.RelativeChange < 0 {
		errs = append(errs, fmt.Errorf("--relative-change: invalid value %g: must not be negative", o.policy.RelativeChange))
	}
	if o.sourceIP != "" {
		if o.probe.Source = net.ParseIP(o.sourceIP); o.probe.Source == nil {
			errs = append(errs, fmt.Errorf("--source-ip: invalid value %q: not an IP address", o.sourceIP))
		}
	}
	if o.egressMbps < -1 {
		errs = append(errs, fmt.Errorf("--egress-mbps: invalid value %d: must be -1 (unset) or more", o.egressMbps))
	}
	return errors.Join(errs...)
}

func (o *options) restConfig() (*rest.Config, error) {
	if o.kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", o.kubeconfig)
}

func (o *options) run(ctx context.Context) error {
	cfg, err := o.restConfig()
	if err != nil {
		return err
	}
	cfg.UserAgent = "edgeplace-probe/" + o.nodeName
	api, err := probeapi.New(cfg)
	if err != nil {
		return err
	}
	target := probe.Target{Node: o.nodeName, BillingZone: o.billingZone}
	if o.egressMbps >= 0 {
		target.EgressMbps = &o.egressMbps
	}
	var siteLabel string // the node's site label, when it could be read
	if node, err := api.GetNode(ctx, o.nodeName); err == nil {
		siteLabel = node.Labels[v1alpha1.SiteLabel]
	} else if o.siteMode {
		return fmt.Errorf("--site-mode: reading Node %q: %w", o.nodeName, err)
	} else {
		klog.ErrorS(err, "Reading the Node; measure requests on its site's object are not answered", "node", o.nodeName)
	}
	if o.siteMode {
		if siteLabel == "" {
			return fmt.Errorf("--site-mode: Node %q has no %s label", o.nodeName, v1alpha1.SiteLabel)
		}
		target.Site = siteLabel
	}
	if _, err := target.ObjectName(); err != nil {
		return err
	}

	if o.metricsAddress != "0" {
		if err := serveMetrics(ctx, o.metricsAddress); err != nil {
			return fmt.Errorf("--metrics-bind-address: %w", err)
		}
	}

	agent := probe.NewAgent(o.probe, api)
	publisher := probe.NewPublisher(agent, target, o.policy)
	klog.InfoS("Starting", "node", o.nodeName, "site", target.Site, "probing", o.probe.String())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	if o.siteMode {
		object, _ := target.ObjectName()
		own := target
		own.Site = ""
		(&site{api: api, leases: api.Leases(o.namespace), node: o.nodeName, object: object, agent: agent,
			publisher: publisher, slowdown: o.slowdown, lease: o.siteLease, divergence: o.divergence,
			ownPublisher: func() *probe.Publisher { return probe.NewPublisher(agent, own, o.policy) },
		}).run(ctx)
	} else {
		go agent.ServeRequests(ctx, o.nodeName)
		if siteLabel != "" {
			// The scheduler asks a node without a NodeNetwork through its
			// site's object, not knowing whether the site's probes run in
			// site mode; once this node's own object is written, it asks
			// there.
			go func() {
				siteCtx, stop := context.WithCancel(ctx)
				defer stop()
				go func() {
					select {
					case <-publisher.Written():
					case <-ctx.Done():
					}
					stop()
				}()
				agent.ServeRequests(siteCtx, v1alpha1.SiteObjectName(siteLabel))
			}()
		}
		publisher.Run(ctx)
	}
	err = <-done
	klog.InfoS("Stopped")
	return err
}

func serveMetrics(ctx context.Context, address string) error {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", probe.MetricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	klog.InfoS("Serving metrics", "address", ln.Addr().String())
	return nil
}
