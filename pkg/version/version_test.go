package version

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKubernetes(t *testing.T) {
	for name, tc := range map[string]struct {
		deps []*debug.Module
		want string
	}{
		"the scheduler links kubernetes": {[]*debug.Module{{Path: "k8s.io/client-go", Version: "v0.37.2"}, {Path: "k8s.io/kubernetes", Version: "v1.37.2"}}, "v1.37.2"},
		"the probe links client-go only": {[]*debug.Module{{Path: "k8s.io/client-go", Version: "v0.37.2"}}, "v1.37.2"},
		"a replaced client-go":           {[]*debug.Module{{Path: "k8s.io/client-go", Version: "v0.36.0", Replace: &debug.Module{Version: "v0.37.2"}}}, "v1.37.2"},
		"neither":                        {[]*debug.Module{{Path: "github.com/spf13/cobra", Version: "v1.9.1"}}, ""},
	} {
		assert.Equal(t, tc.want, kubernetes(tc.deps), name)
	}
}

func TestString(t *testing.T) {
	i := Info{Release: "v0.3.0", Commit: "d41afe1", Modified: true, Kubernetes: "v1.37.2", Go: "go1.26.0"}
	assert.Equal(t, "v0.3.0 (commit d41afe1, modified), built on Kubernetes v1.37.2 with go1.26.0", i.String())
	release, commit, kubernetesRelease = "v9.9.9", "abc1234", "v1.99.0"
	defer func() { release, commit, kubernetesRelease = "", "", "" }()
	got := Get()
	assert.Equal(t, "v9.9.9", got.Release, "the build's flags win")
	assert.Equal(t, "abc1234", got.Commit)
	assert.Equal(t, "v1.99.0", got.Kubernetes, "a test binary links no Kubernetes module here: the flag stands in")
}
