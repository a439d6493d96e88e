package manifests

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedvalidation "k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
)

// TestKustomization builds manifests/ the way `kubectl apply -k manifests/`
// does and checks what it deploys.
func TestKustomization(t *testing.T) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), ".")
	require.NoError(t, err)
	kinds := map[string][]string{}
	for _, r := range resources.Resources() {
		kinds[r.GetKind()] = append(kinds[r.GetKind()], r.GetName())
	}
	assert.ElementsMatch(t, []string{"landmarks.edgeplace.io", "nodenetworks.edgeplace.io", "latencyprofiles.edgeplace.io"}, kinds["CustomResourceDefinition"])
	assert.Equal(t, []string{"edgeplace-scheduler"}, kinds["Deployment"])
	assert.Equal(t, []string{"edgeplace-scheduler"}, kinds["ServiceAccount"])

	cm, err := resources.GetById(resourceID("ConfigMap", "kube-system", "edgeplace-scheduler-config"))
	require.NoError(t, err, "the Deployment mounts this ConfigMap by name")
	data := cm.GetDataMap()
	file, err := os.ReadFile(SchedulerConfigFile)
	require.NoError(t, err)
	assert.Equal(t, string(file), data["config.yaml"], "the ConfigMap carries scheduler/config.yaml verbatim")
	assert.Equal(t, string(file), string(SchedulerConfig()), "the embedded copy is the file")
}

// TestSchedulerConfig loads the shipped KubeSchedulerConfiguration with the
// scheduler's own decoder and validation, then the NetworkLatency args with
// ours.
func TestSchedulerConfig(t *testing.T) {
	obj, gvk, err := schedscheme.Codecs.UniversalDecoder().Decode(SchedulerConfig(), nil, nil)
	require.NoError(t, err)
	require.Equal(t, "KubeSchedulerConfiguration", gvk.Kind)
	cfg := obj.(*schedconfig.KubeSchedulerConfiguration)
	require.NoError(t, schedvalidation.ValidateKubeSchedulerConfiguration(cfg))

	assert.True(t, cfg.LeaderElection.LeaderElect)
	assert.Equal(t, "edgeplace-scheduler", cfg.LeaderElection.ResourceName, "its own lease, not the default scheduler's")
	require.Len(t, cfg.Profiles, 1)
	prof := cfg.Profiles[0]
	assert.Equal(t, "edgeplace-scheduler", prof.SchedulerName)
	require.NotNil(t, prof.PercentageOfNodesToScore)
	assert.EqualValues(t, 100, *prof.PercentageOfNodesToScore, "latency placement looks at every node")

	var args runtime.Object
	for _, pc := range prof.PluginConfig {
		if pc.Name == "NetworkLatency" {
			args = pc.Args
		}
	}
	require.NotNil(t, args)
	_, isUnknown := args.(*runtime.Unknown)
	require.True(t, isUnknown, "out-of-tree args reach the plugin undecoded")
	got, err := argscheme.NetworkLatencyArgs(args)
	require.NoError(t, err)
	assert.Equal(t, "5m0s", got.MeasurementTTL.Duration.String())
}

func resourceID(kind, namespace, name string) resid.ResId {
	return resid.NewResIdWithNamespace(resid.Gvk{Kind: kind, Version: "v1"}, name, namespace)
}
