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

// schedulerBinary is the edgeplace-scheduler under test: $EDGEPLACE_SCHEDULER
// when set (make test builds it), otherwise built here.
var schedulerBinary string

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
	if schedulerBinary = os.Getenv("EDGEPLACE_SCHEDULER"); schedulerBinary == "" {
		schedulerBinary = filepath.Join(tmp, "edgeplace-scheduler")
		if err := build(schedulerBinary); err != nil {
			fmt.Fprintln(os.Stderr, "building the scheduler:", err)
			return 1
		}
	}
	defer stopSharedEnv()
	return m.Run()
}

func build(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/edgeplace-scheduler")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
