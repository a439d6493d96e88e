package feed

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

func TestAPIServerSource(t *testing.T) {
	// Nothing listens there: the feed's informers retry, which is all a
	// source needs of them here.
	cfg := &rest.Config{Host: "http://127.0.0.1:1"}
	src := FromAPIServer()
	_, err := src.Map(context.Background(), nil)
	assert.ErrorContains(t, err, "kubeconfig")

	first, cancel := context.WithCancel(context.Background())
	a, err := src.Map(first, cfg)
	require.NoError(t, err)
	b, err := src.Map(context.Background(), cfg)
	require.NoError(t, err)
	assert.Same(t, a, b, "every plugin reads one map")
	started, ok := src.Started()
	assert.True(t, ok)
	assert.Same(t, a, started)

	_, err = src.Map(context.Background(), &rest.Config{Host: "http://127.0.0.1:2"})
	assert.ErrorContains(t, err, "127.0.0.1:1", "one API server at a time")

	cancel() // the scheduler that started it ends
	_, ok = src.Started()
	assert.False(t, ok, "a map whose feed ended is not handed out")
	next, cancelNext := context.WithCancel(context.Background())
	defer cancelNext()
	c, err := src.Map(next, cfg)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "a scheduler started again gets a new map")
}

func TestFixedSource(t *testing.T) {
	m := netmap.New()
	got, err := Fixed(m).Map(context.Background(), nil)
	require.NoError(t, err)
	assert.Same(t, m, got)
}
