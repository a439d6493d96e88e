// Package controlplane starts a real Kubernetes control plane inside the
// calling process: etcd (go.etcd.io/etcd/server/v3/embed) and kube-apiserver
// (k8s.io/kubernetes/cmd/kube-apiserver/app), with the edgeplace CRDs
// installed. Tests, the demo and the benchmarks all start it here.
//
//	cp, err := controlplane.Start(ctx, controlplane.Options{})
//	defer cp.Stop()
//	client := kubernetes.NewForConfigOrDie(cp.Config())
//
// The API server can be stopped and started again on the same address with
// the same certificates and credentials, so that clients survive it.
package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
)

// Options configure a control plane. The zero value is a good default.
type Options struct {
	// Dir holds etcd's data, the certificates and the kubeconfig. When
	// empty, a temporary directory is used and removed by Stop.
	Dir string
	// SkipCRDs leaves the edgeplace CRDs uninstalled.
	SkipCRDs bool
	// Log receives the API server's and etcd's logs. Nil discards them.
	// klog is process-wide: setting this redirects all klog output.
	Log io.Writer
	// Controllers runs the Deployment and ReplicaSet controllers in process.
	Controllers bool
}

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	dir, kubeconfig string
	removeDir       bool
	etcd            *embed.Etcd
	etcdURL         string
	apiPort         int
	token           string
	certs           pki
	api             *apiServer
	config          *rest.Config
	controllers     *controllers
}

const startTimeout = 2 * time.Minute

// Start starts etcd, then the API server, and installs the CRDs unless told
// not to. It returns once the API server is healthy and the CRDs are served.
func Start(ctx context.Context, opts Options) (cp *ControlPlane, err error) {
	cp = &ControlPlane{dir: opts.Dir}
	if cp.dir == "" {
		if cp.dir, err = os.MkdirTemp("", "edgeplace-controlplane-"); err != nil {
			return nil, err
		}
		cp.removeDir = true
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	redirectKlog(opts.Log)

	if err = cp.startEtcd(); err != nil {
		return cp, fmt.Errorf("starting etcd: %w", err)
	}
	if cp.certs, err = newPKI(filepath.Join(cp.dir, "pki")); err != nil {
		return cp, fmt.Errorf("writing certificates: %w", err)
	}
	if cp.token, err = randomToken(); err != nil {
		return cp, err
	}
	if cp.apiPort, err = FreePort(); err != nil {
		return cp, err
	}
	cp.config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(cp.apiPort),
		BearerToken:     cp.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.certs.caPEM},
		QPS:             1000,
		Burst:           2000,
	}
	if err = cp.writeKubeconfig(); err != nil {
		return cp, err
	}
	if err = cp.StartAPIServer(ctx); err != nil {
		return cp, err
	}
	if !opts.SkipCRDs {
		if err = cp.InstallCRDs(ctx); err != nil {
			return cp, fmt.Errorf("installing CRDs: %w", err)
		}
	}
	if opts.Controllers {
		if cp.controllers, err = startControllers(ctx, cp.Config()); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// Config returns a cluster-admin client configuration. Each call returns a
// fresh copy.
func (cp *ControlPlane) Config() *rest.Config { return rest.CopyConfig(cp.config) }

// KubeconfigPath is a kubeconfig file with the same credentials as Config,
// for processes such as the scheduler.
func (cp *ControlPlane) KubeconfigPath() string { return cp.kubeconfig }

// Dir is the directory holding the control plane's state.
func (cp *ControlPlane) Dir() string { return cp.dir }

// StartAPIServer starts the API server on the control plane's address and
// waits until it is healthy. It is called by Start, and again after
// StopAPIServer to bring the API server back.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	if cp.api != nil {
		return errors.New("the API server is already running")
	}
	api, err := startAPIServer(ctx, apiServerConfig{
		dir:     cp.dir,
		port:    cp.apiPort,
		etcdURL: cp.etcdURL,
		token:   cp.token,
		certs:   cp.certs,
	})
	if err != nil {
		return err
	}
	cp.api = api
	return waitHealthy(ctx, cp.Config(), api.done)
}

// StopAPIServer stops the API server and waits until it has shut down;
// etcd keeps running.
func (cp *ControlPlane) StopAPIServer() error {
	if cp.api == nil {
		return nil
	}
	err := cp.api.stop()
	cp.api = nil
	return err
}

// Stop stops the API server and etcd and removes a temporary directory.
func (cp *ControlPlane) Stop() {
	if cp.controllers != nil {
		_ = cp.controllers.stop()
		cp.controllers = nil
	}
	if err := cp.StopAPIServer(); err != nil {
		klog.ErrorS(err, "API server did not shut down cleanly")
	}
	if cp.etcd != nil {
		cp.etcd.Close()
		cp.etcd = nil
	}
	if cp.removeDir {
		os.RemoveAll(cp.dir)
	}
}

func (cp *ControlPlane) startEtcd() error {
	clientPort, err := FreePort()
	if err != nil {
		return err
	}
	peerPort, err := FreePort()
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = "edgeplace"
	cfg.Dir = filepath.Join(cp.dir, "etcd")
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(cp.dir, "etcd.log")}
	// The data is scratch: skipping fsync makes tests several times faster.
	cfg.UnsafeNoFsync = true
	client := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	cp.etcd = e
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return err
	case <-time.After(startTimeout):
		return errors.New("etcd did not become ready")
	}
	cp.etcdURL = client.String()
	return nil
}

func (cp *ControlPlane) writeKubeconfig() error {
	cp.kubeconfig = filepath.Join(cp.dir, "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["edgeplace"] = &clientcmdapi.Cluster{Server: cp.config.Host, CertificateAuthorityData: cp.certs.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cp.token}
	cfg.Contexts["edgeplace"] = &clientcmdapi.Context{Cluster: "edgeplace", AuthInfo: "admin"}
	cfg.CurrentContext = "edgeplace"
	return clientcmd.WriteToFile(*cfg, cp.kubeconfig)
}

// redirectKlog sends all klog output, errors included, to w.
func redirectKlog(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"logtostderr":                      "false",
		"alsologtostderr":                  "false",
		"stderrthreshold":                  "FATAL",
		"legacy_stderr_threshold_behavior": "false",
	} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(w)
}

// FreePort is a TCP port on loopback that nothing listened on a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
