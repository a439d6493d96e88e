package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersion: each binary under test names its release, its commit and
// the Kubernetes release of go.mod, so that a bug report can say what ran.
func TestVersion(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes").Output()
	require.NoError(t, err)
	k8s := strings.TrimSpace(string(out))
	for name, binary := range map[string]string{"edgeplace-scheduler": schedulerBinary, "edgeplace-probe": probeBinary} {
		out, err := exec.Command(binary, "--version").CombinedOutput()
		require.NoError(t, err, "%s --version: %s", name, out)
		line := strings.TrimSpace(string(out))
		assert.Regexp(t, regexp.MustCompile(`^`+name+` (version )?\S+ \(commit \S+(, modified)?\), built on Kubernetes `+regexp.QuoteMeta(k8s)+` with go\S+$`), line)
	}
}
