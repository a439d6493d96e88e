package feed

import (
	"context"
	"errors"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// Source hands edgeplace's plugins the network map they read. The
// scheduler's registry holds one (plugins.Registry), so that every plugin
// of every profile reads the same map.
type Source interface {
	// Map returns the map for a scheduler whose kubeconfig is cfg.
	Map(ctx context.Context, cfg *rest.Config) (*netmap.Map, error)
}

// APIServer is the scheduler's source: the first plugin that asks starts a
// map fed by its own informers from the API server of its kubeconfig
// (Start). When that plugin's ctx (the scheduler's lifetime) ends, the
// feed stops and the map is forgotten, so that a scheduler started again
// in the same process gets a new one.
type APIServer struct {
	mu sync.Mutex
	m  *netmap.Map
}

// FromAPIServer returns a source that feeds one map from the API server.
func FromAPIServer() *APIServer { return &APIServer{} }

// Map starts the map on first use and returns it.
func (s *APIServer) Map(ctx context.Context, cfg *rest.Config) (*netmap.Map, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m != nil {
		return s.m, nil
	}
	if cfg == nil {
		return nil, errors.New("the scheduler handle has no kubeconfig to watch measurements with")
	}
	m := netmap.New()
	if err := Start(ctx, m, cfg); err != nil {
		return nil, err
	}
	s.m = m
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.m == m {
			s.m = nil
		}
	}()
	return m, nil
}

// Started returns the map, once a plugin has started it.
func (s *APIServer) Started() (*netmap.Map, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m, s.m != nil
}

// Fixed returns a source that hands out m, which its caller fills and
// flushes itself: tests, benchmarks and the placement evaluation.
func Fixed(m *netmap.Map) Source { return fixed{m} }

type fixed struct{ m *netmap.Map }

func (f fixed) Map(context.Context, *rest.Config) (*netmap.Map, error) { return f.m, nil }
