package placement

import (
	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	configv1 "github.com/edgeplace/edgeplace/pkg/apis/config/v1"
	"github.com/edgeplace/edgeplace/pkg/cyclestate"
	"github.com/edgeplace/edgeplace/pkg/intent"
)

// Options are the intent parser's options under NetworkLatency's args:
// every reader of a pod's intent (the plugins, their queueing hints,
// explain) parses it with these, so that they agree on what it asks.
func Options(args *config.NetworkLatencyArgs) intent.Options {
	return intent.Options{
		DefaultPercentile: args.DefaultPercentile,
		DefaultWeight:     int64(args.DefaultDemandWeight),
		MaxLandmarks:      int(args.MaxDemandLandmarks),
	}
}

// DefaultOptions are Options under NetworkLatency's default args: what
// Locality and BandwidthCost parse with when NetworkLatency has not
// resolved the pod's intent in the same cycle, and what explain assumes
// of the scheduler it explains.
func DefaultOptions() intent.Options {
	return intent.Options{
		DefaultPercentile: config.Percentile(configv1.DefaultPercentile),
		DefaultWeight:     int64(configv1.DefaultDemandWeight),
		MaxLandmarks:      int(configv1.DefaultMaxDemandLandmarks),
	}
}

// resolved is a pod's intent as one cycle resolved it, and with what.
type resolved struct {
	opts intent.Options
	in   *intent.Intent
	err  error
}

var intents = cyclestate.New[resolved]("edgeplace.io/intent")

// IntentFor resolves the pod's intent (its annotations and LatencyProfile)
// once per scheduling cycle: the first of edgeplace's plugins to ask in a
// cycle resolves it and writes it to cs, and the others read it when they
// parse with the same options. cs nil (queueing hints, SignPod) resolves
// it afresh.
func IntentFor(cs fwk.CycleState, pod *v1.Pod, profiles intent.ProfileGetter, opts intent.Options) (*intent.Intent, error) {
	if cs != nil {
		if r, ok := intents.Read(cs); ok && r.opts == opts {
			return r.in, r.err
		}
	}
	in, err := intent.ForPod(pod, profiles, opts)
	if cs != nil {
		intents.Write(cs, resolved{opts: opts, in: in, err: err})
	}
	return in, err
}
