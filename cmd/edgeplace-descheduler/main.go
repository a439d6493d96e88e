// Command edgeplace-descheduler is the descheduler (sigs.k8s.io/descheduler)
// with edgeplace's rebalancing plugin, EdgeplaceRebalance, compiled in. It
// evicts the pods whose placement has gone bad on fresh measurements, so
// that their controllers recreate them and edgeplace-scheduler places the
// replacements; manifests/descheduler holds its Deployment and the
// DeschedulerPolicy that enables the plugin. Every flag is the
// descheduler's own (--policy-config-file, --descheduling-interval,
// --dry-run, --leader-elect, ...).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/cli"
	"sigs.k8s.io/descheduler/cmd/descheduler/app"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"

	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/version"
	"github.com/edgeplace/edgeplace/plugins/rebalance"
)

func main() {
	if version.Requested(os.Args[1:]) {
		fmt.Println("edgeplace-descheduler", version.Get())
		return
	}
	os.Exit(cli.Run(command()))
}

func command() *cobra.Command {
	env := &rebalance.Env{Maps: feed.FromAPIServer()}
	cmd := app.NewDeschedulerCommand(os.Stdout)
	cmd.Use = "edgeplace-descheduler"
	cmd.Flags().Bool("version", false, "Print the version and exit.")
	setUp := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		// The descheduler's set-up makes a fresh plugin registry with its
		// own plugins; the rebalancer joins it before the policy is read.
		if err := setUp(c, args); err != nil {
			return err
		}
		rebalance.Register(pluginregistry.PluginRegistry, env)
		kubeconfig := c.Flags().Lookup("client-connection-kubeconfig").Value.String()
		env.Config = func() (*rest.Config, error) {
			// An empty path is the in-cluster configuration, as the
			// descheduler's own client takes it.
			return clientcmd.BuildConfigFromFlags("", kubeconfig)
		}
		dryRun, err := c.Flags().GetBool("dry-run")
		env.DryRun = dryRun
		return err
	}
	return cmd
}
