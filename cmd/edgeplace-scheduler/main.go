// Command edgeplace-scheduler is kube-scheduler with the edgeplace plugins
// compiled in. Pods opt in with schedulerName: edgeplace-scheduler; the
// profile in manifests/scheduler/config.yaml enables the plugins.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/version"
	"github.com/edgeplace/edgeplace/plugins"
)

func main() {
	// kube-scheduler's own --version names only the Kubernetes release.
	if version.Requested(os.Args[1:]) {
		fmt.Println("edgeplace-scheduler", version.Get())
		return
	}
	// One map, fed from the API server, for every plugin of every profile.
	var options []app.Option
	for name, factory := range plugins.Registry(feed.FromAPIServer()) {
		options = append(options, app.WithPlugin(name, factory))
	}
	command := app.NewSchedulerCommand(options...)
	os.Exit(cli.Run(command))
}
