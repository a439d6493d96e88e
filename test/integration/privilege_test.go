package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	applyv1alpha1 "github.com/edgeplace/edgeplace/pkg/generated/applyconfiguration/edgeplace/v1alpha1"
	edgeclient "github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned"
)

// applyManifest creates the RBAC objects of a file under manifests/.
func applyManifest(t testing.TB, kube kubernetes.Interface, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "manifests", file))
	require.NoError(t, err)
	ctx := t.Context()
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		require.NoError(t, err, "%s: %s", file, doc)
		switch o := obj.(type) {
		case *corev1.Namespace:
			_, err = kube.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		case *corev1.ServiceAccount:
			_, err = kube.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = kube.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = kube.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = kube.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = kube.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *admissionv1.ValidatingAdmissionPolicy:
			_, err = kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			_, err = kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("%s: unexpected %T", file, obj)
		}
		if !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err, file)
		}
	}
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the
// service account, with a token from the TokenRequest API.
func serviceAccountKubeconfig(t testing.TB, e *env, namespace, name string, boundTo ...*corev1.Pod) (string, *kubernetes.Clientset, *edgeclient.Clientset) {
	t.Helper()
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}
	for _, pod := range boundTo {
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := e.kube.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := clientcmd.LoadFromFile(e.cp.KubeconfigPath())
	require.NoError(t, err)
	for _, auth := range cfg.AuthInfos {
		auth.Token = tr.Status.Token
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	rest, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	return path, kubernetes.NewForConfigOrDie(rest), edgeclient.NewForConfigOrDie(rest)
}

// probePodOn creates the probe DaemonSet's pod on a node, bound there, so
// that a token bound to it names the node as the pod's projected token does.
func probePodOn(t *testing.T, e *env, node *corev1.Node) *corev1.Pod {
	t.Helper()
	pod, err := e.kube.CoreV1().Pods("edgeplace-system").Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-" + node.Name},
		Spec: corev1.PodSpec{NodeName: node.Name, ServiceAccountName: "edgeplace-probe",
			Containers: []corev1.Container{{Name: "probe", Image: "edgeplace/edgeplace-probe"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return pod
}

// TestLeastPrivilege runs the probe and the scheduler as their service
// accounts with exactly the RBAC and admission policy in manifests/: each
// does its job, and the probe is refused what it does not need.
func TestLeastPrivilege(t *testing.T) {
	e, f := ownEnv(t)
	applyManifest(t, e.kube, "probe/rbac.yaml")
	applyManifest(t, e.kube, "probe/admission-policy.yaml")
	applyManifest(t, e.kube, "scheduler/rbac.yaml")
	ctx := t.Context()

	// The probe, as edgeplace-system/edgeplace-probe, with a token bound to
	// its DaemonSet pod on the node, as the pod's projected token is.
	lm := f.prefix + "-users"
	echo := f.echo("tcp", 4*time.Millisecond, nil)
	f.probedLandmark(lm, v1alpha1.ProtocolTCPEcho, echo.Addr().String())
	node := f.node(f.prefix+"-probed", 8, nil)
	probeConfig, kube, edge := serviceAccountKubeconfig(t, e, "edgeplace-system", "edgeplace-probe", probePodOn(t, e, node))
	probeMetrics := f.startProbe(node.Name, "127.0.0.51", "--kubeconfig="+probeConfig)
	f.waitEntry(node.Name, lm, "published with the probe's own permissions", near(4*time.Millisecond))

	forbidden := func(what string, err error) {
		t.Helper()
		assert.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
	}
	_, err := kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
	forbidden("list pods", err)
	forbidden("delete a node", kube.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}))
	_, err = edge.EdgeplaceV1alpha1().Landmarks().Create(ctx, &v1alpha1.Landmark{ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: v1alpha1.LandmarkSpec{Addresses: []string{"a:1"}}}, metav1.CreateOptions{})
	forbidden("create a Landmark", err)
	_, err = edge.EdgeplaceV1alpha1().NodeNetworks().List(ctx, metav1.ListOptions{})
	forbidden("list NodeNetworks", err)
	nn, err := e.edge.EdgeplaceV1alpha1().NodeNetworks().Get(ctx, node.Name, metav1.GetOptions{})
	require.NoError(t, err)
	nn.Spec.Scope = v1alpha1.ScopeSite
	nn.Spec.Site = "elsewhere"
	_, err = edge.EdgeplaceV1alpha1().NodeNetworks().Update(ctx, nn, metav1.UpdateOptions{})
	forbidden("update a NodeNetwork's spec", err)

	// The scheduler, as kube-system/edgeplace-scheduler: a second process
	// with the shipped configuration; it takes over once the admin one
	// stops.
	schedConfig, _, schedEdge := serviceAccountKubeconfig(t, e, "kube-system", "edgeplace-scheduler")
	require.NoError(t, e.sched.Stop(10*time.Second))
	startScheduler(t, e, "scheduler-sa", schedConfig)
	f.pod("placed", demand(lm, "20ms"), 10)
	assert.Equal(t, node.Name, f.waitBound("placed", time.Minute), "log: %s", filepath.Join(e.logs, "scheduler-sa.log"))

	// A measure request, as the scheduler writes it, reaches the probe
	// through its watch of its own object.
	patch := fmt.Sprintf(`{"spec":{"measureNow":{"landmarks":[%q],"requestedAt":%q}}}`, lm, time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	_, err = schedEdge.EdgeplaceV1alpha1().NodeNetworks().Patch(ctx, node.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err, "the scheduler may ask for measurements")
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return strings.Contains(scrape(t, probeMetrics), `edgeplace_probe_measure_requests_total{result="taken"} 1`), nil
	}), "the probe takes the request with its own permissions")
}

// TestProbeWritesOnlyItsOwnNode: with the admission policy from manifests/,
// a probe whose token is bound to a pod on node A may write A's NodeNetwork
// and is refused B's, and the other way round.
func TestProbeWritesOnlyItsOwnNode(t *testing.T) {
	e, f := ownEnv(t)
	applyManifest(t, e.kube, "probe/rbac.yaml")
	applyManifest(t, e.kube, "probe/admission-policy.yaml")
	ctx := t.Context()

	// Admission loads a new policy asynchronously: wait until it refuses a
	// write by a token that names no node.
	_, _, unbound := serviceAccountKubeconfig(t, e, "edgeplace-system", "edgeplace-probe")
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := unbound.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: f.prefix + "-policy-check", Labels: f.testLabel()},
		}, metav1.CreateOptions{})
		if err == nil {
			return false, e.edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, f.prefix+"-policy-check", metav1.DeleteOptions{})
		}
		return strings.Contains(err.Error(), "a probe may write only"), nil
	}), "the admission policy never took effect")

	nodes := []*corev1.Node{f.node(f.prefix+"-a", 4, nil), f.node(f.prefix+"-b", 4, nil)}
	var edges []*edgeclient.Clientset
	for _, n := range nodes {
		_, _, edge := serviceAccountKubeconfig(t, e, "edgeplace-system", "edgeplace-probe", probePodOn(t, e, n))
		edges = append(edges, edge)
	}
	write := func(edge *edgeclient.Clientset, node *corev1.Node) error {
		_, err := edge.EdgeplaceV1alpha1().NodeNetworks().Create(ctx, &v1alpha1.NodeNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: node.Name, Labels: f.testLabel()},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		// As the probe writes: server-side apply on status (RBAC grants
		// patch, not update).
		_, err = edge.EdgeplaceV1alpha1().NodeNetworks().ApplyStatus(ctx,
			applyv1alpha1.NodeNetwork(node.Name).WithStatus(applyv1alpha1.NodeNetworkStatus().WithBillingZone("zone-"+node.Name)),
			metav1.ApplyOptions{FieldManager: "edgeplace-probe", Force: true})
		return err
	}
	for i, edge := range edges {
		own, other := nodes[i], nodes[1-i]
		require.NoError(t, write(edge, own), "a probe writes its own node's NodeNetwork")
		err := write(edge, other)
		require.Error(t, err, "a probe on %s wrote %s's NodeNetwork", own.Name, other.Name)
		assert.Contains(t, err.Error(), "a probe may write only the NodeNetwork of the node its token is bound to ("+own.Name+"), not "+other.Name)
	}

	// A token bound to no pod names no node: refused too.
	err := write(unbound, nodes[0])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "(no node)")

	// Deleting (a site-mode node that measures as its site again deletes
	// its own object): its own node's only.
	for i, edge := range edges {
		own, other := nodes[i], nodes[1-i]
		err := edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, other.Name, metav1.DeleteOptions{})
		require.Error(t, err, "a probe on %s deleted %s's NodeNetwork", own.Name, other.Name)
		assert.Contains(t, err.Error(), "a probe may write only the NodeNetwork of the node its token is bound to ("+own.Name+"), not "+other.Name)
	}
	for i, edge := range edges {
		require.NoError(t, edge.EdgeplaceV1alpha1().NodeNetworks().Delete(ctx, nodes[i].Name, metav1.DeleteOptions{}),
			"a probe deletes its own node's NodeNetwork")
	}
}
