// Command kubectl-edgeplace is edgeplace's operator tool, usable as a
// kubectl plugin ("kubectl edgeplace ...") or on its own; the commands are
// in pkg/kubectlplugin.
package main

import (
	"os"

	"k8s.io/component-base/cli"

	"github.com/edgeplace/edgeplace/pkg/kubectlplugin"
)

func main() {
	os.Exit(cli.Run(kubectlplugin.NewCommand()))
}
