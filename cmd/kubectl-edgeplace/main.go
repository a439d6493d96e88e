// Command kubectl-edgeplace is edgeplace's operator tool, usable as a
// kubectl plugin ("kubectl edgeplace ...") or on its own.
package main

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
)

func main() {
	root := &cobra.Command{
		Use:          "kubectl-edgeplace",
		Short:        "Inspect and evaluate edgeplace's latency-aware placement",
		SilenceUsage: true,
	}
	root.AddCommand(newEvaluateCommand())
	os.Exit(cli.Run(root))
}
