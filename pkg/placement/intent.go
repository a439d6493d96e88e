package placement

import (
	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	configv1 "github.com/edgeplace/edgeplace/pkg/apis/config/v1"
	"github.com/edgeplace/edgeplace/pkg/apis/config/validation"
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
// explain assumes of the scheduler it explains.
func DefaultOptions() intent.Options {
	return intent.Options{
		DefaultPercentile: config.Percentile(configv1.DefaultPercentile),
		DefaultWeight:     int64(configv1.DefaultDemandWeight),
		MaxLandmarks:      int(configv1.DefaultMaxDemandLandmarks),
	}
}

// LenientOptions are what Locality and BandwidthCost parse with when no
// plugin has resolved the pod's intent in the cycle (and outside one):
// they read only the constraints and egress, so they allow as many
// landmarks as NetworkLatency's args may (its validation's limit) and
// leave holding the demand to NetworkLatency's own args.
func LenientOptions() intent.Options {
	o := DefaultOptions()
	o.MaxLandmarks = validation.MaxDemandLandmarks
	return o
}

// resolved is a pod's intent as one cycle resolved it, and with what.
type resolved struct {
	opts intent.Options
	in   *intent.Intent
	err  error
}

var intents = cyclestate.New[resolved]("edgeplace.io/intent")

// IntentFor resolves the pod's intent (its annotations and LatencyProfile)
// with opts, once per scheduling cycle: NetworkLatency's PreFilter, which
// runs first, resolves it with its args' options and writes it to cs. It
// reads an intent already in cs only when it was parsed with the same
// options, so that its own limits always hold. cs nil (queueing hints,
// SignPod) resolves it afresh.
func IntentFor(cs fwk.CycleState, pod *v1.Pod, profiles intent.ProfileGetter, opts intent.Options) (*intent.Intent, error) {
	if cs != nil {
		if r, ok := intents.Read(cs); ok && r.opts == opts {
			return r.in, r.err
		}
	}
	return resolve(cs, pod, profiles, opts)
}

// SharedIntent is the intent an earlier plugin resolved in the cycle,
// whatever its options, or else the pod's intent resolved with fallback
// (and written for the next): Locality and BandwidthCost read it so.
func SharedIntent(cs fwk.CycleState, pod *v1.Pod, profiles intent.ProfileGetter, fallback intent.Options) (*intent.Intent, error) {
	if r, ok := intents.Read(cs); ok {
		return r.in, r.err
	}
	return resolve(cs, pod, profiles, fallback)
}

func resolve(cs fwk.CycleState, pod *v1.Pod, profiles intent.ProfileGetter, opts intent.Options) (*intent.Intent, error) {
	in, err := intent.ForPod(pod, profiles, opts)
	if cs != nil {
		intents.Write(cs, resolved{opts: opts, in: in, err: err})
	}
	return in, err
}
