// Command kubectl-edgeplace is edgeplace's operator tool, usable as a
// kubectl plugin ("kubectl edgeplace ...") or on its own; the commands are
// in the app package.
package main

import (
	"os"

	"k8s.io/component-base/cli"

	"github.com/edgeplace/edgeplace/cmd/kubectl-edgeplace/app"
)

func main() {
	os.Exit(cli.Run(app.NewCommand()))
}
