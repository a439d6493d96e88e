package feed

import (
	"context"
	"errors"
	"fmt"
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
// feed stops and the map is no longer handed out.
type APIServer struct {
	mu   sync.Mutex
	m    *netmap.Map
	host string
	ctx  context.Context // the lifetime of m's feed
}

// FromAPIServer returns a source that feeds one map from the API server.
func FromAPIServer() *APIServer { return &APIServer{} }

// Map starts the map on first use and returns it. A source feeds from one
// API server at a time: while its map runs, a kubeconfig for another host
// is an error.
func (s *APIServer) Map(ctx context.Context, cfg *rest.Config) (*netmap.Map, error) {
	if cfg == nil {
		return nil, errors.New("the scheduler handle has no kubeconfig to watch measurements with")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.running(); ok {
		if cfg.Host != s.host {
			return nil, fmt.Errorf("the network map is fed from %s already, not from %s", s.host, cfg.Host)
		}
		return m, nil
	}
	m := netmap.New()
	if err := Start(ctx, m, cfg); err != nil {
		return nil, err
	}
	s.m, s.host, s.ctx = m, cfg.Host, ctx
	return m, nil
}

// Started returns the map while the feed that a plugin started runs.
func (s *APIServer) Started() (*netmap.Map, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running()
}

// running is the map, unless its feed ended with the scheduler that
// started it (a scheduler started again in the process gets a new one).
func (s *APIServer) running() (*netmap.Map, bool) {
	if s.m == nil || s.ctx.Err() != nil {
		return nil, false
	}
	return s.m, true
}

// Fixed returns a source that hands out m, which its caller fills and
// flushes itself: tests, benchmarks and the placement evaluation.
func Fixed(m *netmap.Map) Source { return fixed{m} }

type fixed struct{ m *netmap.Map }

func (f fixed) Map(context.Context, *rest.Config) (*netmap.Map, error) { return f.m, nil }
