package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedvalidation "k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	"sigs.k8s.io/descheduler/pkg/descheduler"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	argscheme "github.com/edgeplace/edgeplace/pkg/apis/config/scheme"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/plugins/rebalance"
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
	assert.ElementsMatch(t, []string{"edgeplace-scheduler", "edgeplace-descheduler"}, kinds["Deployment"])
	assert.ElementsMatch(t, []string{"edgeplace-probe", "edgeplace-responder"}, kinds["DaemonSet"])
	assert.ElementsMatch(t, []string{"edgeplace-scheduler", "edgeplace-descheduler", "edgeplace-probe"}, kinds["ServiceAccount"])
	assert.Equal(t, []string{"edgeplace-probe-own-node"}, kinds["ValidatingAdmissionPolicy"])
	assert.Equal(t, []string{"edgeplace-probe-own-node"}, kinds["ValidatingAdmissionPolicyBinding"])

	for _, name := range []string{"edgeplace-probe", "edgeplace-responder"} {
		r, err := resources.GetById(resid.NewResIdWithNamespace(resid.Gvk{Group: "apps", Version: "v1", Kind: "DaemonSet"}, name, "edgeplace-system"))
		require.NoError(t, err, name)
		raw, err := r.MarshalJSON()
		require.NoError(t, err)
		var ds appsv1.DaemonSet
		require.NoError(t, yaml.UnmarshalStrict(raw, &ds), name)
		pod := ds.Spec.Template.Spec
		require.NotNil(t, pod.SecurityContext.RunAsNonRoot, name)
		assert.True(t, *pod.SecurityContext.RunAsNonRoot, name)
		assert.Equal(t, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, pod.Tolerations, "%s runs on tainted edge nodes too", name)
		for _, c := range pod.Containers {
			sc := c.SecurityContext
			require.NotNil(t, sc, name)
			assert.False(t, *sc.AllowPrivilegeEscalation, name)
			assert.True(t, *sc.ReadOnlyRootFilesystem, name)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, name)
			assert.Empty(t, sc.Capabilities.Add, name)
			assert.NotEmpty(t, c.Resources.Limits, name)
		}
		if name == "edgeplace-probe" {
			assert.Equal(t, []corev1.Sysctl{{Name: "net.ipv4.ping_group_range", Value: "65532 65532"}}, pod.SecurityContext.Sysctls,
				"unprivileged ping sockets for the probe's group")
			assert.Equal(t, "spec.nodeName", pod.Containers[0].Env[0].ValueFrom.FieldRef.FieldPath, "NODE_NAME from the downward API")
		}
	}

	// Every image comes from one registry, through the kustomization's
	// images block, so that `kustomize edit set image` moves them all.
	var images []string
	for _, r := range resources.Resources() {
		containers, err := r.GetSlice("spec.template.spec.containers")
		if err != nil {
			continue
		}
		for _, c := range containers {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	assert.ElementsMatch(t, []string{
		"ghcr.io/edgeplace/edgeplace-scheduler:latest", "ghcr.io/edgeplace/edgeplace-probe:latest", "ghcr.io/edgeplace/edgeplace-responder:latest",
		"ghcr.io/edgeplace/edgeplace-descheduler:latest",
	}, images)

	cm, err := resources.GetById(resourceID("ConfigMap", "kube-system", "edgeplace-scheduler-config"))
	require.NoError(t, err, "the Deployment mounts this ConfigMap by name")
	data := cm.GetDataMap()
	file, err := os.ReadFile(SchedulerConfigFile)
	require.NoError(t, err)
	assert.Equal(t, string(file), data["config.yaml"], "the ConfigMap carries scheduler/config.yaml verbatim")
	assert.Equal(t, string(file), string(SchedulerConfig()), "the embedded copy is the file")

	cm, err = resources.GetById(resourceID("ConfigMap", "kube-system", "edgeplace-descheduler-policy"))
	require.NoError(t, err, "the descheduler Deployment mounts this ConfigMap by name")
	file, err = os.ReadFile(DeschedulerPolicyFile)
	require.NoError(t, err)
	assert.Equal(t, string(file), cm.GetDataMap()["policy.yaml"], "the ConfigMap carries descheduler/policy.yaml verbatim")
	assert.Equal(t, string(file), string(DeschedulerPolicy()), "the embedded copy is the file")
}

// TestDeschedulerPolicy loads the shipped DeschedulerPolicy with the
// descheduler's own loader, with the rebalancer registered as
// edgeplace-descheduler registers it: the plugin's args decode, validate
// and default, and they are the documented defaults.
func TestDeschedulerPolicy(t *testing.T) {
	descheduler.SetupPlugins()
	rebalance.Register(pluginregistry.PluginRegistry, &rebalance.Env{})
	policy, err := descheduler.LoadPolicyConfig(DeschedulerPolicyFile, fake.NewClientset(), pluginregistry.PluginRegistry)
	require.NoError(t, err)
	require.Len(t, policy.Profiles, 1)
	prof := policy.Profiles[0]
	assert.Equal(t, []string{rebalance.PluginName}, prof.Plugins.Deschedule.Enabled)
	var args *rebalance.EdgeplaceRebalanceArgs
	for _, pc := range prof.PluginConfigs {
		if pc.Name == rebalance.PluginName {
			args, _ = pc.Args.(*rebalance.EdgeplaceRebalanceArgs)
		}
	}
	require.NotNil(t, args, "the plugin's args decode into its own type")
	want := &rebalance.EdgeplaceRebalanceArgs{}
	rebalance.SetDefaults(want)
	want.TypeMeta = args.TypeMeta
	assert.Equal(t, want, args, "the shipped policy states the defaults")

	bad := []byte(strings.Replace(string(DeschedulerPolicy()), "minGapPercent: 30", "minGapPercent: -3", 1))
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	_, err = descheduler.LoadPolicyConfig(path, fake.NewClientset(), pluginregistry.PluginRegistry)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "minGapPercent: Invalid value: -3", "a bad value is refused, naming the field and value")
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

// TestExamples decodes every example strictly against the CRD types and
// the core API, so that they stay valid as the API changes.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var meta struct {
				Kind string `json:"kind"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), file)
			var into any
			switch meta.Kind {
			case "LatencyProfile":
				into = &v1alpha1.LatencyProfile{}
			case "Landmark":
				into = &v1alpha1.Landmark{}
			case "Deployment":
				into = &appsv1.Deployment{}
			case "Pod":
				into = &corev1.Pod{}
			default:
				t.Fatalf("%s: unexpected kind %q", file, meta.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), into), "%s: %s", file, meta.Kind)
		}
	}
}
