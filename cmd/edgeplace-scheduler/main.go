// Command edgeplace-scheduler is kube-scheduler with the edgeplace plugins
// compiled in. Pods opt in with schedulerName: edgeplace-scheduler; the
// profile in manifests/scheduler/config.yaml enables the plugins.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/edgeplace/edgeplace/plugins/bandwidthcost"
	"github.com/edgeplace/edgeplace/plugins/locality"
	"github.com/edgeplace/edgeplace/plugins/networklatency"
)

func main() {
	command := app.NewSchedulerCommand(
		app.WithPlugin(networklatency.Name, networklatency.New),
		app.WithPlugin(locality.Name, locality.New),
		app.WithPlugin(bandwidthcost.Name, bandwidthcost.New),
	)
	os.Exit(cli.Run(command))
}
