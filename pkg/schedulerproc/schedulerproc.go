// Package schedulerproc runs the edgeplace-scheduler binary as a child
// process with the shipped configuration (manifests/scheduler/config.yaml),
// changing only what must change outside a cluster: the kubeconfig.
// End-to-end tests and the demo use it, so they exercise the real command
// and the real configuration.
package schedulerproc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/manifests"
	"github.com/edgeplace/edgeplace/pkg/controlplane"
)

// Options say which binary to run against which API server.
type Options struct {
	// Binary is the path of the edgeplace-scheduler executable.
	Binary string
	// Kubeconfig is the API server to schedule for.
	Kubeconfig string
	// Dir receives the derived configuration file.
	Dir string
	// Config, when set, replaces the shipped configuration.
	Config []byte
	// Output receives the scheduler's stdout and stderr.
	Output io.Writer
	// Args are extra command-line flags (for example "-v=4").
	Args []string
}

// Process is a running scheduler.
type Process struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
	err  error
}

// Start writes the configuration, starts the scheduler and waits until its
// /readyz answers.
func Start(ctx context.Context, opts Options) (*Process, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = manifests.SchedulerConfig()
	}
	cfg, err := WithKubeconfig(cfg, opts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(opts.Dir, "edgeplace-scheduler.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	port, err := controlplane.FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--config=" + cfgPath,
		// Serving and delegated auth are flags, not configuration fields.
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--authentication-kubeconfig=" + opts.Kubeconfig,
		"--authorization-kubeconfig=" + opts.Kubeconfig,
	}, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	if opts.Output != nil {
		cmd.Stdout, cmd.Stderr = opts.Output, opts.Output
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, port: port, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// WithKubeconfig returns a KubeSchedulerConfiguration with
// clientConnection.kubeconfig set; everything else is kept as it is.
func WithKubeconfig(config []byte, kubeconfig string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("parsing scheduler configuration: %w", err)
	}
	conn, _ := doc["clientConnection"].(map[string]any)
	if conn == nil {
		conn = map[string]any{}
	}
	conn["kubeconfig"] = kubeconfig
	doc["clientConnection"] = conn
	return yaml.Marshal(doc)
}

func (p *Process) waitReady(ctx context.Context) error {
	client := &http.Client{
		Timeout: time.Second,
		// The scheduler serves a self-signed certificate.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health check only
	}
	url := "https://127.0.0.1:" + strconv.Itoa(p.port) + "/readyz"
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("scheduler exited while starting: %v", p.err)
		default:
		}
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Pid is the scheduler's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop asks the scheduler to exit (SIGTERM) and waits, killing it after
// the timeout.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return p.Kill()
	}
}

// Kill ends the scheduler at once (SIGKILL) and waits for it.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}
