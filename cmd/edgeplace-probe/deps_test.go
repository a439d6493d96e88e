package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLinksOnlyItsOwnResources guards the probe's memory: core/v1, a clientset, an
// informer factory or client-go's leader election would link every API
// group's types and their registration again (about 8 MiB of resident
// memory on every node); Prometheus' client (with protobuf) and cobra
// (with a template engine) another 2.3 MiB (bench/README, "The probe's own
// cost").
func TestLinksOnlyItsOwnResources(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err, "go list")
	var apiGroups []string
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "k8s.io/api/"):
			apiGroups = append(apiGroups, pkg)
		case pkg == "k8s.io/client-go/kubernetes", pkg == "k8s.io/client-go/kubernetes/scheme",
			pkg == "k8s.io/client-go/discovery", strings.HasPrefix(pkg, "k8s.io/client-go/tools/leaderelection"),
			strings.HasPrefix(pkg, "github.com/edgeplace/edgeplace/pkg/generated/"),
			strings.HasPrefix(pkg, "github.com/prometheus/"), strings.HasPrefix(pkg, "google.golang.org/protobuf/"),
			strings.HasPrefix(pkg, "k8s.io/component-base/"), pkg == "github.com/spf13/cobra", pkg == "text/template":
			t.Errorf("the probe links %s", pkg)
		}
	}
	require.ElementsMatch(t, []string{"k8s.io/api/coordination/v1"}, apiGroups)
}
