package integration

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgeplace/edgeplace/pkg/controlplane"
)

// (g) Without the edgeplace CRDs the scheduler starts and schedules ordinary
// pods; a pod that names a landmark is told why it waits.
func TestWithoutCRDs(t *testing.T) {
	e, err := startEnv(t.Context(), controlplane.Options{SkipCRDs: true})
	require.NoError(t, err)
	t.Cleanup(e.stop)
	t.Logf("logs: %s", e.logs)
	f := newFixture(t, e)
	f.node("plain-node", 8, nil)

	f.pod("ordinary", nil, 500)
	assert.Equal(t, "plain-node", f.waitBound("ordinary", waitTimeout))

	f.pod("wants-latency", demand("lm-g", "10ms"), 0)
	msg := f.waitUnschedulable("wants-latency")
	assert.Contains(t, msg, `landmark "lm-g" named in edgeplace.io/demand does not exist (edgeplace CRDs not installed)`)
}
