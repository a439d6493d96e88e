// Package integration tests edgeplace end to end: a real etcd and
// kube-apiserver started in this process (pkg/controlplane), the real
// edgeplace-scheduler binary as a child process with the shipped
// configuration from manifests/, and real API objects.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// schedulerBinary, probeBinary and deschedulerBinary are the commands
// under test: $EDGEPLACE_SCHEDULER, $EDGEPLACE_PROBE and
// $EDGEPLACE_DESCHEDULER when set (make test builds them), otherwise built
// here.
var schedulerBinary, probeBinary, deschedulerBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "edgeplace-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	for _, b := range []struct {
		path *string
		env  string
		cmd  string
	}{
		{&schedulerBinary, "EDGEPLACE_SCHEDULER", "edgeplace-scheduler"},
		{&probeBinary, "EDGEPLACE_PROBE", "edgeplace-probe"},
		{&deschedulerBinary, "EDGEPLACE_DESCHEDULER", "edgeplace-descheduler"},
	} {
		if *b.path = os.Getenv(b.env); *b.path == "" {
			*b.path = filepath.Join(tmp, b.cmd)
			if err := build(*b.path, "./cmd/"+b.cmd); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n", b.cmd, err)
				return 1
			}
		}
	}
	defer stopSharedEnv()
	return m.Run()
}

func build(out, pkg string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
