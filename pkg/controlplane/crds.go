package controlplane

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/manifests"
)

// InstallCRDs creates (or updates) the CRDs from manifests/crds and waits
// until they are established and served.
func (cp *ControlPlane) InstallCRDs(ctx context.Context) error {
	return InstallCRDs(ctx, cp.Config())
}

// InstallCRDs installs the CRDs from manifests/crds on any API server, for
// harnesses that start their own (such as scheduler_perf).
func InstallCRDs(ctx context.Context, cfg *rest.Config) error {
	client, crds, err := edgeplaceCRDs(cfg)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		_, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			current, gerr := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			crd.ResourceVersion = current.ResourceVersion
			_, err = client.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, crd, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		for _, crd := range crds {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil || !established(got) {
				return false, nil
			}
			gv := crd.Spec.Group + "/" + crd.Spec.Versions[0].Name
			resources, err := disco.ServerResourcesForGroupVersion(gv)
			if err != nil || !serves(resources, crd.Spec.Names.Plural) {
				return false, nil
			}
		}
		return true, nil
	})
}

// UninstallCRDs deletes the edgeplace CRDs and waits until they are gone.
func (cp *ControlPlane) UninstallCRDs(ctx context.Context) error {
	client, crds, err := edgeplaceCRDs(cp.Config())
	if err != nil {
		return err
	}
	for _, crd := range crds {
		err := client.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		for _, crd := range crds {
			if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
}

// edgeplaceCRDs is a client for CRDs on cfg's API server, and the CRDs
// from manifests/crds.
func edgeplaceCRDs(cfg *rest.Config) (*apiextensions.Clientset, []*apiextensionsv1.CustomResourceDefinition, error) {
	client, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	crds, err := readCRDs(manifests.CRDs())
	return client, crds, err
}

func readCRDs(fsys fs.FS) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, crd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRDs found in manifests/crds")
	}
	return out, nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func serves(list *metav1.APIResourceList, plural string) bool {
	for _, r := range list.APIResources {
		if r.Name == plural {
			return true
		}
	}
	return false
}
