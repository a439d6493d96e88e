package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

type apiServerConfig struct {
	dir     string
	port    int
	etcdURL string
	token   string
	certs   pki
}

type apiServer struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the server has stopped
	err    error         // why it stopped; read after done
}

// flags are the kube-apiserver command-line flags for the control plane,
// exactly as an operator would pass them.
func (c apiServerConfig) flags() ([]string, error) {
	tokens := filepath.Join(c.dir, "tokens.csv")
	// token,user,uid,"groups"
	line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", c.token)
	if err := os.WriteFile(tokens, []byte(line), 0o600); err != nil {
		return nil, err
	}
	return []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.port),
		"--tls-cert-file=" + c.certs.servingCertFile,
		"--tls-private-key-file=" + c.certs.servingKey,
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		// No kubelet or controller manager runs: the ServiceAccount plugin
		// would refuse pods until token controllers exist, and
		// TaintNodesByCondition would taint every new node not-ready.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.certs.serviceAccountKey,
		"--service-account-signing-key-file=" + c.certs.serviceAccountKey,
		"--service-cluster-ip-range=10.0.0.0/16",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		// Bound the HTTP shutdown to 2s instead of waiting up to the request
		// timeout for watch connections, so that a restart is quick.
		"--shutdown-send-retry-after=true",
	}, nil
}

func startAPIServer(ctx context.Context, c apiServerConfig) (*apiServer, error) {
	s := options.NewServerRunOptions()
	// A registry of its own per start, so that the server can be started
	// again in the same process.
	featureGate := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	version := compatibility.DefaultKubeEffectiveVersionForTest()
	version.SetEmulationVersion(featureGate.EmulationVersion())
	version.SetMinCompatibilityVersion(featureGate.MinCompatibilityVersion())
	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, version, featureGate); err != nil {
		return nil, err
	}
	s.GenericServerRunOptions.ComponentGlobalsRegistry = registry

	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	flags, err := c.flags()
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	if err := registry.Set(); err != nil {
		return nil, err
	}
	listener, err := listenRetrying(ctx, c.port)
	if err != nil {
		return nil, err
	}
	s.SecureServing.Listener = listener

	completed, err := s.Complete(ctx)
	if err != nil {
		listener.Close()
		return nil, err
	}
	if errs := completed.Validate(); len(errs) > 0 {
		listener.Close()
		return nil, errors.Join(errs...)
	}
	config, err := app.NewConfig(completed)
	if err != nil {
		listener.Close()
		return nil, err
	}
	completedConfig, err := config.Complete()
	if err != nil {
		listener.Close()
		return nil, err
	}
	server, err := app.CreateServerChain(completedConfig)
	if err != nil {
		listener.Close()
		return nil, err
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		listener.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &apiServer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.err = prepared.Run(runCtx)
	}()
	return a, nil
}

// listenRetrying binds the API server's port; right after a stop the old
// listener may take a moment to release it.
func listenRetrying(ctx context.Context, port int) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var l net.Listener
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		var err error
		l, err = net.Listen("tcp", addr)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("binding %s: %w", addr, err)
	}
	return l, nil
}

func (a *apiServer) stop() error {
	a.cancel()
	<-a.done
	if errors.Is(a.err, context.Canceled) {
		return nil
	}
	return a.err
}

// waitHealthy polls /readyz until the API server answers, then waits for the
// namespaces that clients expect to exist.
func waitHealthy(ctx context.Context, cfg *rest.Config, done <-chan struct{}) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ready := func(ctx context.Context) (bool, error) {
		select {
		case <-done:
			return false, errors.New("the API server stopped while starting")
		default:
		}
		status := 0
		client.CoreV1().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&status)
		if status != 200 {
			return false, nil
		}
		for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem} {
			if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				return false, nil
			}
		}
		return true, nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, ready); err != nil {
		return fmt.Errorf("waiting for the API server: %w", err)
	}
	return nil
}
