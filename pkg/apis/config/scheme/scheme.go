// Package scheme decodes, defaults and validates edgeplace plugin args.
//
// The kube-scheduler leaves args of out-of-tree plugins undecoded
// (runtime.Unknown); the plugins' factories turn them into internal types
// here, strictly, so that a typo in a field name fails start-up.
package scheme

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	configv1 "github.com/edgeplace/edgeplace/pkg/apis/config/v1"
	"github.com/edgeplace/edgeplace/pkg/apis/config/validation"
)

var (
	// Scheme knows the internal and v1 args with their defaults and conversions.
	Scheme = runtime.NewScheme()
	// Codecs decodes args strictly: unknown or duplicate fields are errors.
	Codecs = serializer.NewCodecFactory(Scheme, serializer.EnableStrict)
)

func init() {
	utilruntime.Must(config.AddToScheme(Scheme))
	utilruntime.Must(configv1.AddToScheme(Scheme))
	utilruntime.Must(Scheme.SetVersionPriority(configv1.SchemeGroupVersion))
}

// NetworkLatencyArgs turns what the framework hands a plugin factory into
// defaulted, validated internal args. obj may be nil (no pluginConfig entry),
// raw JSON or YAML (*runtime.Unknown), versioned args, or internal args.
func NetworkLatencyArgs(obj runtime.Object) (*config.NetworkLatencyArgs, error) {
	out := &config.NetworkLatencyArgs{}
	if in, ok := obj.(*config.NetworkLatencyArgs); ok {
		out = in.DeepCopy()
	} else if err := decodeArgs(obj, out, "NetworkLatencyArgs"); err != nil {
		return nil, err
	}
	if errs := validation.ValidateNetworkLatencyArgs(field.NewPath("args"), out); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

// BandwidthCostArgs is NetworkLatencyArgs for the BandwidthCost plugin.
func BandwidthCostArgs(obj runtime.Object) (*config.BandwidthCostArgs, error) {
	out := &config.BandwidthCostArgs{}
	if in, ok := obj.(*config.BandwidthCostArgs); ok {
		out = in.DeepCopy()
	} else if err := decodeArgs(obj, out, "BandwidthCostArgs"); err != nil {
		return nil, err
	}
	if errs := validation.ValidateBandwidthCostArgs(field.NewPath("args"), out); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

// nameField finds which top-level field a decoding error comes from, since
// value decoders such as metav1.Duration's do not say ("time: unknown unit").
func nameField(raw []byte, gvk schema.GroupVersionKind, err error) error {
	if runtime.IsStrictDecodingError(err) {
		return err // already names the field
	}
	var fields map[string]json.RawMessage
	if yaml.Unmarshal(raw, &fields) != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		one, _ := json.Marshal(map[string]json.RawMessage{name: fields[name]})
		obj, _ := Scheme.New(gvk)
		if _, _, ferr := Codecs.UniversalDecoder().Decode(one, &gvk, obj); ferr != nil {
			return fmt.Errorf("args.%s: %w", name, ferr)
		}
	}
	return err
}

// decodeArgs fills the internal object into from versioned input, applying
// the v1 defaults on the way.
func decodeArgs(obj runtime.Object, into runtime.Object, kind string) error {
	gvk := configv1.SchemeGroupVersion.WithKind(kind)
	var versioned runtime.Object
	switch in := obj.(type) {
	case nil:
		fresh, err := Scheme.New(gvk)
		if err != nil {
			return err
		}
		versioned = fresh
	case *runtime.Unknown:
		raw := in.Raw
		if len(raw) == 0 {
			raw = []byte("{}")
		}
		// The codec decodes into the v1 type (strictly), defaults it and
		// converts it to the internal type held by into.
		if _, _, err := Codecs.UniversalDecoder().Decode(raw, &gvk, into); err != nil {
			return fmt.Errorf("decoding %s: %w", kind, nameField(raw, gvk, err))
		}
		return nil
	default:
		versioned = in.DeepCopyObject()
	}
	Scheme.Default(versioned)
	return Scheme.Convert(versioned, into, nil)
}
