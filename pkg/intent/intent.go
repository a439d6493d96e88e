// Package intent reads what a pod asks of the network from its annotations:
// which landmarks (user populations) it serves and with what weight, the RTT
// it must stay within, and which percentile that bound is held against.
package intent

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// EstimatePolicy is which estimates a hard SLO accepts.
type EstimatePolicy string

const (
	EstimatesNone        EstimatePolicy = "none"
	EstimatesPeers       EstimatePolicy = "peers"
	EstimatesCoordinates EstimatePolicy = "coordinates"
)

// annotations are every key edgeplace reads from a pod.
var annotations = []string{
	v1alpha1.ProfileAnnotation,
	v1alpha1.DemandAnnotation, v1alpha1.MaxRTTAnnotation, v1alpha1.MaxLossAnnotation, v1alpha1.MaxJitterAnnotation, v1alpha1.PercentileAnnotation, v1alpha1.EstimatesAnnotation, v1alpha1.EgressAnnotation, v1alpha1.MaxCostAnnotation,
	v1alpha1.DependsOnAnnotation, v1alpha1.DependsOnWeightAnnotation, v1alpha1.DependsOnMaxRTTAnnotation,
	v1alpha1.CarriersAnnotation, v1alpha1.ForbiddenCarriersAnnotation, v1alpha1.ProvincesAnnotation, v1alpha1.ForbiddenProvincesAnnotation, v1alpha1.NodeTypesAnnotation,
}

// Bounds on annotation values.
const (
	maxWeight = 1_000_000
	maxRTT    = time.Minute
	// maxQuoted bounds how much of a bad value an error message repeats.
	maxQuoted = 64
	// maxListItems bounds a location constraint list.
	maxListItems = 64
	maxMbps      = 10_000_000
	maxCost      = 1e12
)

// Demand is one landmark a pod serves and its share of the pod's users.
type Demand struct {
	Landmark string
	Weight   int64
}

// Intent is a pod's resolved network intent.
type Intent struct {
	// Demand is sorted by landmark name, without duplicates; empty when the
	// pod states only location constraints.
	Demand []Demand
	// MaxRTT is the hard SLO; zero means the pod has none.
	MaxRTT time.Duration
	// MaxLossPPM (parts per million) and MaxJitter bound the measured loss
	// and jitter to every demand landmark; zero means none.
	MaxLossPPM int64
	MaxJitter  time.Duration
	Percentile config.Percentile
	// Estimates is which estimates the SLO accepts.
	Estimates EstimatePolicy
	// EgressMbps is the pod's expected egress (0: none stated); from the
	// extended resource request when there is one, else the annotation.
	EgressMbps int64
	// EgressRequested says the egress is an extended resource request, which
	// NodeResourcesFit enforces.
	EgressRequested bool
	// MaxCost is the cost ceiling; negative: none.
	MaxCost float64
	// DependsOn selects the pods of a workload this pod talks to (nil:
	// none), with its weight and RTT bound (0: none).
	DependsOn       labels.Selector
	DependsOnWeight int64
	DependsOnMaxRTT time.Duration
	// Location constraints; each list is sorted and normalised, and empty
	// when the pod sets none.
	Carriers, ForbiddenCarriers   []string
	Provinces, ForbiddenProvinces []string
	NodeTypes                     []string
}

// HasLocation says whether the pod constrains where it may run.
func (in *Intent) HasLocation() bool {
	return len(in.Carriers)+len(in.ForbiddenCarriers)+len(in.Provinces)+len(in.ForbiddenProvinces)+len(in.NodeTypes) > 0
}

// The reasons a location breaks a pod's location constraints, one per
// constraint, so that a pod's event says which.
const (
	ReasonCarrier          = "node(s) are not on an allowed carrier (edgeplace.io/carriers)"
	ReasonForbiddenCarrier = "node(s) are on a forbidden carrier (edgeplace.io/forbidden-carriers)"
	ReasonProvince         = "node(s) are not in an allowed province (edgeplace.io/provinces)"
	ReasonForbiddenProv    = "node(s) are in a forbidden province (edgeplace.io/forbidden-provinces)"
	ReasonNodeType         = "node(s) are not of an allowed node type (edgeplace.io/node-types)"
)

// LocationViolation returns the reason a location breaks the pod's
// location constraints, or "". A location that does not tell a constrained
// field fails an allow-list and passes a deny-list; a multi-carrier
// location is on every carrier.
func (in *Intent) LocationViolation(loc topology.Location) string {
	switch {
	case len(in.Carriers) > 0 && !(loc.Carrier != "" && (loc.Carrier == topology.Multi || slices.Contains(in.Carriers, loc.Carrier))):
		return ReasonCarrier
	case loc.Carrier != "" && slices.Contains(in.ForbiddenCarriers, loc.Carrier):
		return ReasonForbiddenCarrier
	case len(in.Provinces) > 0 && !slices.Contains(in.Provinces, loc.Province):
		return ReasonProvince
	case loc.Province != "" && slices.Contains(in.ForbiddenProvinces, loc.Province):
		return ReasonForbiddenProv
	case len(in.NodeTypes) > 0 && !slices.Contains(in.NodeTypes, loc.NodeType):
		return ReasonNodeType
	}
	return ""
}

// HasSLO says whether the pod must be kept within MaxRTT of its demand.
func (in *Intent) HasSLO() bool { return in.MaxRTT > 0 }

// HasQualityBound says whether the pod bounds the loss or jitter of its
// demand's paths.
func (in *Intent) HasQualityBound() bool { return in.MaxLossPPM > 0 || in.MaxJitter > 0 }

// Options are the defaults and limits applied while parsing.
type Options struct {
	DefaultPercentile config.Percentile
	DefaultWeight     int64
	MaxLandmarks      int
}

// Error says which annotation is wrong, and why, in words a pod's owner can
// act on. It is what the pod's PodScheduled condition shows.
type Error struct {
	Annotation string
	Value      string
	Reason     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("annotation %s=%s: %s", e.Annotation, quote(e.Value), e.Reason)
}

// Relevant says whether an annotation key is one edgeplace reads; a change to
// any other annotation cannot change a pod's intent.
func Relevant(key string) bool { return slices.Contains(annotations, key) }

// Changed says whether two versions of a pod differ in their intent
// annotations.
func Changed(oldPod, newPod *v1.Pod) bool {
	for _, key := range annotations {
		if oldPod.Annotations[key] != newPod.Annotations[key] {
			return true
		}
	}
	return false
}

// ProfileGetter finds a LatencyProfile by namespace and name.
type ProfileGetter func(namespace, name string) (*v1alpha1.LatencyProfile, bool)

// ForPod resolves the pod's intent: its LatencyProfile (if it names one),
// overridden field by field by its own annotations.
func ForPod(pod *v1.Pod, profiles ProfileGetter, opts Options) (*Intent, error) {
	name, ok := pod.Annotations[v1alpha1.ProfileAnnotation]
	if !ok {
		return FromPod(pod, opts)
	}
	var profile *v1alpha1.LatencyProfile
	if profiles != nil {
		profile, ok = profiles(pod.Namespace, name)
	}
	if profile == nil || !ok {
		return nil, &Error{v1alpha1.ProfileAnnotation, name, fmt.Sprintf("no LatencyProfile of that name in namespace %q", pod.Namespace)}
	}
	merged := *pod
	merged.Annotations = profileAnnotations(&profile.Spec)
	for k, v := range pod.Annotations {
		merged.Annotations[k] = v
	}
	return FromPod(&merged, opts)
}

// profileAnnotations writes a profile as the annotations it stands for, so
// that both go through one parser and one set of checks.
func profileAnnotations(p *v1alpha1.LatencyProfileSpec) map[string]string {
	out := map[string]string{}
	if len(p.Demand) > 0 {
		parts := make([]string, len(p.Demand))
		for i, d := range p.Demand {
			parts[i] = fmt.Sprintf("%s:%d", d.Landmark, max(d.Weight, 1))
		}
		out[v1alpha1.DemandAnnotation] = strings.Join(parts, ",")
	}
	if p.MaxRTT != nil {
		out[v1alpha1.MaxRTTAnnotation] = p.MaxRTT.Duration.String()
	}
	set := func(key, value string) {
		if value != "" {
			out[key] = value
		}
	}
	set(v1alpha1.MaxLossAnnotation, p.MaxLoss)
	if p.MaxJitter != nil {
		out[v1alpha1.MaxJitterAnnotation] = p.MaxJitter.Duration.String()
	}
	set(v1alpha1.PercentileAnnotation, p.Percentile)
	set(v1alpha1.EstimatesAnnotation, p.Estimates)
	if p.EgressMbps > 0 {
		out[v1alpha1.EgressAnnotation] = fmt.Sprintf("%dM", p.EgressMbps)
	}
	if p.MaxCost != nil {
		out[v1alpha1.MaxCostAnnotation] = p.MaxCost.AsDec().String()
	}
	join := func(key string, values []string) {
		if len(values) > 0 {
			out[key] = strings.Join(values, ",")
		}
	}
	join(v1alpha1.CarriersAnnotation, strs(p.Carriers))
	join(v1alpha1.ForbiddenCarriersAnnotation, strs(p.ForbiddenCarriers))
	join(v1alpha1.ProvincesAnnotation, p.Provinces)
	join(v1alpha1.ForbiddenProvincesAnnotation, p.ForbiddenProvinces)
	join(v1alpha1.NodeTypesAnnotation, strs(p.NodeTypes))
	if d := p.DependsOn; d != nil {
		out[v1alpha1.DependsOnAnnotation] = d.Selector
		if d.Weight > 0 {
			out[v1alpha1.DependsOnWeightAnnotation] = strconv.FormatInt(d.Weight, 10)
		}
		if d.MaxRTT != nil {
			out[v1alpha1.DependsOnMaxRTTAnnotation] = d.MaxRTT.Duration.String()
		}
	}
	return out
}

func strs[S ~string](in []S) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// FromPod parses the pod's annotations. It returns nil and no error for a pod
// that states no network intent at all.
func FromPod(pod *v1.Pod, opts Options) (*Intent, error) {
	if !slices.ContainsFunc(annotations, func(key string) bool { _, ok := pod.Annotations[key]; return ok }) &&
		requestedEgress(pod) == 0 {
		return nil, nil
	}
	in := &Intent{Percentile: opts.DefaultPercentile, Estimates: EstimatesPeers, MaxCost: -1}
	if err := in.parseLocation(pod.Annotations); err != nil {
		return nil, err
	}
	if err := in.parseBandwidth(pod); err != nil {
		return nil, err
	}
	if err := in.parseDependency(pod.Annotations, opts); err != nil {
		return nil, err
	}
	demand, hasDemand := pod.Annotations[v1alpha1.DemandAnnotation]
	if !hasDemand {
		for _, key := range []string{v1alpha1.MaxRTTAnnotation, v1alpha1.MaxLossAnnotation, v1alpha1.MaxJitterAnnotation, v1alpha1.PercentileAnnotation, v1alpha1.EstimatesAnnotation} {
			if value, ok := pod.Annotations[key]; ok {
				return nil, &Error{key, value, "needs " + v1alpha1.DemandAnnotation + " to say which landmarks it applies to"}
			}
		}
		return in, nil
	}
	maxRTT, hasMaxRTT := pod.Annotations[v1alpha1.MaxRTTAnnotation]
	pct, hasPct := pod.Annotations[v1alpha1.PercentileAnnotation]
	if value, ok := pod.Annotations[v1alpha1.EstimatesAnnotation]; ok {
		switch p := EstimatePolicy(strings.TrimSpace(value)); p {
		case EstimatesNone, EstimatesPeers, EstimatesCoordinates:
			in.Estimates = p
		default:
			return nil, &Error{v1alpha1.EstimatesAnnotation, value, `must be "none", "peers" or "coordinates"`}
		}
	}

	var err error
	if in.Demand, err = ParseDemand(demand, opts); err != nil {
		return nil, err
	}
	if hasMaxRTT {
		if in.MaxRTT, err = ParseMaxRTT(maxRTT); err != nil {
			return nil, err
		}
	}
	if value, ok := pod.Annotations[v1alpha1.MaxLossAnnotation]; ok {
		if in.MaxLossPPM, err = ParseMaxLoss(value); err != nil {
			return nil, err
		}
	}
	if value, ok := pod.Annotations[v1alpha1.MaxJitterAnnotation]; ok {
		if in.MaxJitter, err = ParseMaxRTT(value); err != nil {
			return nil, &Error{v1alpha1.MaxJitterAnnotation, value, err.(*Error).Reason}
		}
	}
	if hasPct {
		switch p := config.Percentile(strings.TrimSpace(pct)); p {
		case config.P50, config.P90:
			in.Percentile = p
		default:
			return nil, &Error{v1alpha1.PercentileAnnotation, pct, `must be "p50" or "p90"`}
		}
	}
	return in, nil
}

// ParseDemand parses "landmark[:weight],..." into demands sorted by landmark.
func ParseDemand(value string, opts Options) ([]Demand, error) {
	fail := func(reason string, args ...any) ([]Demand, error) {
		return nil, &Error{v1alpha1.DemandAnnotation, value, fmt.Sprintf(reason, args...)}
	}
	// Count before splitting so that a hostile value cannot make us allocate
	// a huge slice.
	if n := strings.Count(value, ",") + 1; n > opts.MaxLandmarks {
		return fail("lists %d landmarks, more than the limit of %d", n, opts.MaxLandmarks)
	}
	var out []Demand
	for item := range strings.SplitSeq(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fail("has an empty entry; write landmark[:weight] separated by commas")
		}
		name, weightText, hasWeight := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return fail("landmark name %s is not a valid object name: %s", quote(name), msgs[0])
		}
		weight := opts.DefaultWeight
		if hasWeight {
			w, err := strconv.ParseInt(strings.TrimSpace(weightText), 10, 64)
			if err != nil || w < 1 || w > maxWeight {
				return fail("weight %s of landmark %q must be a whole number from 1 to %d", quote(weightText), name, maxWeight)
			}
			weight = w
		}
		out = append(out, Demand{Landmark: name, Weight: weight})
	}
	slices.SortFunc(out, func(a, b Demand) int { return strings.Compare(a.Landmark, b.Landmark) })
	for i := 1; i < len(out); i++ {
		if out[i].Landmark == out[i-1].Landmark {
			return fail("lists landmark %q twice", out[i].Landmark)
		}
	}
	return out, nil
}

// parseDependency reads the workload the pod talks to.
func (in *Intent) parseDependency(a map[string]string, opts Options) error {
	value, ok := a[v1alpha1.DependsOnAnnotation]
	if !ok {
		for _, key := range []string{v1alpha1.DependsOnWeightAnnotation, v1alpha1.DependsOnMaxRTTAnnotation} {
			if v, set := a[key]; set {
				return &Error{key, v, "needs " + v1alpha1.DependsOnAnnotation + " to say which workload"}
			}
		}
		return nil
	}
	sel, err := labels.Parse(value)
	if err != nil || sel.Empty() {
		return &Error{v1alpha1.DependsOnAnnotation, value, `must be a non-empty label selector, such as "app=mysql"`}
	}
	in.DependsOn, in.DependsOnWeight = sel, opts.DefaultWeight
	if w, ok := a[v1alpha1.DependsOnWeightAnnotation]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(w), 10, 64)
		if err != nil || n < 1 || n > maxWeight {
			return &Error{v1alpha1.DependsOnWeightAnnotation, w, fmt.Sprintf("must be a whole number from 1 to %d", maxWeight)}
		}
		in.DependsOnWeight = n
	}
	if d, ok := a[v1alpha1.DependsOnMaxRTTAnnotation]; ok {
		rtt, err := ParseMaxRTT(d)
		if err != nil {
			return &Error{v1alpha1.DependsOnMaxRTTAnnotation, d, err.(*Error).Reason}
		}
		in.DependsOnMaxRTT = rtt
	}
	return nil
}

// parseBandwidth reads the pod's egress and cost ceiling.
func (in *Intent) parseBandwidth(pod *v1.Pod) error {
	if mbps := requestedEgress(pod); mbps > 0 {
		in.EgressMbps, in.EgressRequested = mbps, true
	} else if value, ok := pod.Annotations[v1alpha1.EgressAnnotation]; ok {
		mbps, err := ParseMbps(value)
		if err != nil {
			return &Error{v1alpha1.EgressAnnotation, value, err.Error()}
		}
		in.EgressMbps = mbps
	}
	if value, ok := pod.Annotations[v1alpha1.MaxCostAnnotation]; ok {
		cost, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(cost) || math.IsInf(cost, 0) || cost < 0 || cost > maxCost {
			return &Error{v1alpha1.MaxCostAnnotation, value, "must be a number from 0 to 1e12"}
		}
		in.MaxCost = cost
	}
	return nil
}

// requestedEgress sums the pod's containers' requests of the egress
// extended resource.
func requestedEgress(pod *v1.Pod) int64 {
	var total int64
	for i := range pod.Spec.Containers {
		if q, ok := pod.Spec.Containers[i].Resources.Requests[v1alpha1.EgressResource]; ok {
			total += q.Value()
		}
	}
	return total
}

// ParseMbps reads a bandwidth with a unit: "200M", "200Mbps", "1.5G",
// "1.5Gbps" (case-insensitive), into whole Mbps.
func ParseMbps(value string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(value))
	v = strings.TrimSuffix(v, "bps")
	scale := 0.0
	switch {
	case strings.HasSuffix(v, "m"):
		scale, v = 1, strings.TrimSuffix(v, "m")
	case strings.HasSuffix(v, "g"):
		scale, v = 1000, strings.TrimSuffix(v, "g")
	default:
		return 0, errors.New(`must be a bandwidth with a unit, such as "200M" or "1.5G"`)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f*scale > maxMbps {
		return 0, errors.New("must be greater than 0 and at most 10000G")
	}
	return int64(math.Ceil(f * scale)), nil
}

// parseLocation reads the location constraints.
func (in *Intent) parseLocation(a map[string]string) error {
	var err error
	carrier := func(s string) (string, bool) { c := topology.NormaliseCarrier(s); return c, c != "" }
	province := func(s string) (string, bool) {
		s = strings.ToLower(s)
		return s, len(validation.IsDNS1123Label(s)) == 0
	}
	nodeType := func(s string) (string, bool) {
		s = strings.ToLower(s)
		return s, s == topology.ENS || s == topology.CDN
	}
	for _, f := range []struct {
		key    string
		into   *[]string
		parse  func(string) (string, bool)
		expect string
	}{
		{v1alpha1.CarriersAnnotation, &in.Carriers, carrier, "a carrier: telecom, unicom, cmcc or multi"},
		{v1alpha1.ForbiddenCarriersAnnotation, &in.ForbiddenCarriers, carrier, "a carrier: telecom, unicom, cmcc or multi"},
		{v1alpha1.ProvincesAnnotation, &in.Provinces, province, "a province name such as zhejiang"},
		{v1alpha1.ForbiddenProvincesAnnotation, &in.ForbiddenProvinces, province, "a province name such as zhejiang"},
		{v1alpha1.NodeTypesAnnotation, &in.NodeTypes, nodeType, `"ens" or "cdn"`},
	} {
		value, ok := a[f.key]
		if !ok {
			continue
		}
		if *f.into, err = parseList(f.key, value, f.parse, f.expect); err != nil {
			return err
		}
	}
	return nil
}

// parseList parses a comma-separated list into sorted, unique values.
func parseList(key, value string, parse func(string) (string, bool), expect string) ([]string, error) {
	if n := strings.Count(value, ",") + 1; n > maxListItems {
		return nil, &Error{key, value, fmt.Sprintf("lists %d values, more than the limit of %d", n, maxListItems)}
	}
	var out []string
	for item := range strings.SplitSeq(value, ",") {
		v, ok := parse(strings.TrimSpace(item))
		if !ok {
			return nil, &Error{key, value, fmt.Sprintf("%s is not %s", quote(strings.TrimSpace(item)), expect)}
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ParseMaxRTT parses an RTT bound such as "25ms" or "1.5ms".
func ParseMaxRTT(value string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil {
		return 0, &Error{v1alpha1.MaxRTTAnnotation, value, `must be a duration with a unit, such as "25ms"`}
	}
	if d <= 0 || d > maxRTT {
		return 0, &Error{v1alpha1.MaxRTTAnnotation, value, "must be greater than 0 and at most " + maxRTT.String()}
	}
	return d, nil
}

// ParseMaxLoss reads a loss bound, a percentage such as "1%" or "0.05%",
// into parts per million.
func ParseMaxLoss(value string) (int64, error) {
	fail := &Error{v1alpha1.MaxLossAnnotation, value, `must be a percentage greater than 0 and at most 100%, such as "1%" or "0.05%"`}
	number, isPercent := strings.CutSuffix(strings.TrimSpace(value), "%")
	if !isPercent {
		return 0, fail
	}
	pct, err := strconv.ParseFloat(strings.TrimSpace(number), 64)
	if err != nil || math.IsNaN(pct) || pct <= 0 || pct > 100 {
		return 0, fail
	}
	return max(1, int64(math.Round(pct*10_000))), nil
}

func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}
