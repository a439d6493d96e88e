// Package version says what a binary is, for bug reports: edgeplace's
// release and commit, and the Kubernetes release it is built on.
package version

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at build time, as Kubernetes' own build sets its version, with
// -ldflags "-X github.com/edgeplace/edgeplace/pkg/version.release=v0.3.0"
// and so on; the Makefile passes `git describe`, the commit and the
// Kubernetes release of go.mod. Go's own record of the commit is the
// fallback, but builds with -buildvcs=false (or outside a checkout) have
// none.
var (
	release           string
	commit            string
	kubernetesRelease string // for binaries that link no Kubernetes module
)

// Info is what a binary is built from.
type Info struct {
	Release    string // edgeplace's release; "dev" when the build set none
	Commit     string // the commit built; "unknown" outside a checkout
	Modified   bool   // the checkout had changes not committed
	Kubernetes string // the Kubernetes release the binary links
	Go         string
}

// Get reads the release from the build's flags and the rest from the
// build information Go embeds in every binary.
func Get() Info {
	info := Info{Release: cmp.Or(release, "dev"), Commit: cmp.Or(commit, "unknown"), Kubernetes: cmp.Or(kubernetesRelease, "unknown"), Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if release == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Release = bi.Main.Version // go install ...@version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = cmp.Or(commit, s.Value)
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if linked := kubernetes(bi.Deps); linked != "" {
		info.Kubernetes = linked
	}
	return info
}

// kubernetes is the release of k8s.io/kubernetes when the binary links it,
// else the one its client-go belongs to (client-go v0.N.M ships with
// Kubernetes v1.N.M); "" when it links neither.
func kubernetes(deps []*debug.Module) string {
	versionOf := func(m *debug.Module) string {
		if m.Replace != nil {
			return m.Replace.Version
		}
		return m.Version
	}
	var client string
	for _, m := range deps {
		switch m.Path {
		case "k8s.io/kubernetes":
			return versionOf(m)
		case "k8s.io/client-go":
			if v := versionOf(m); strings.HasPrefix(v, "v0.") {
				client = "v1." + strings.TrimPrefix(v, "v0.")
			}
		}
	}
	return client
}

// String is one line for a binary's --version.
func (i Info) String() string {
	commit := i.Commit
	if i.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("%s (commit %s), built on Kubernetes %s with %s", i.Release, commit, i.Kubernetes, i.Go)
}

// Requested says whether a command's arguments ask for its version, as
// the component-base --version flag takes it: --version, --version=true or
// --version=raw. The edgeplace commands built on kube-scheduler and the
// descheduler answer it with their own release first.
func Requested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--version", "--version=true", "--version=raw":
			return true
		case "--":
			return false
		}
	}
	return false
}
