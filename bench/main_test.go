package bench

import (
	"flag"
	"io"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The scheduler and plugins log; benchmark output must stay parseable.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	_ = fs.Set("legacy_stderr_threshold_behavior", "false")
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}
