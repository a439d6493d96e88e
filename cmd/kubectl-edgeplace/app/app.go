// Package app is `kubectl edgeplace`: explain (why a pod went
// where it went), top (measurement freshness and RTT per site) and evaluate
// (placement quality on an RTT table, no cluster needed).
package app

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
	"github.com/edgeplace/edgeplace/pkg/version"
)

// NewCommand returns the root command.
func NewCommand() *cobra.Command {
	root := &cobra.Command{
		Use:          "kubectl-edgeplace",
		Short:        "Inspect and evaluate edgeplace's latency-aware placement",
		Version:      version.Get().String(),
		SilenceUsage: true,
	}
	c := &clusterFlags{ttl: 5 * time.Minute}
	root.PersistentFlags().StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	root.PersistentFlags().StringVarP(&c.namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's)")
	root.PersistentFlags().DurationVar(&c.ttl, "measurement-ttl", c.ttl, "measurements older than this read as stale (the scheduler's measurementTTL)")
	root.AddCommand(newExplainCommand(c), newTopCommand(c), newEvaluateCommand())
	return root
}

// clusterFlags reach a cluster the way kubectl does.
type clusterFlags struct {
	kubeconfig, namespace string
	ttl                   time.Duration
}

type clients struct {
	kube      kubernetes.Interface
	edge      edgeclient.Interface
	namespace string
}

func (c *clusterFlags) clients() (*clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	cfg := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rest, err := cfg.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	ns := c.namespace
	if ns == "" {
		if ns, _, err = cfg.Namespace(); err != nil {
			return nil, err
		}
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, err
	}
	edge, err := edgeclient.NewForConfig(rest)
	if err != nil {
		return nil, err
	}
	return &clients{kube: kube, edge: edge, namespace: ns}, nil
}
