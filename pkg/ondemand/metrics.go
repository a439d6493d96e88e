package ondemand

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	requests = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "edgeplace",
		Name:           "measure_requests_total",
		Help:           "Requests to a node's probe to measure landmarks now, by result: sent, merged (into one waiting for the same object), repeated (asked within the last 30s), dropped (queue full), error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	registerMetrics = sync.OnceFunc(func() { legacyregistry.MustRegister(requests) })
)
