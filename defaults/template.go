package defaults

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/internal/quantity"
)

// Template kinds, in lookup order.
const (
	KindComputeTemplate        = "ComputeTemplate"
	KindConfigMap              = "ConfigMap"
	KindClusterComputeTemplate = "ClusterComputeTemplate"
)

// DefaultGPUAccelerator is the GPU resource name when a template names none.
const DefaultGPUAccelerator = "nvidia.com/gpu"

// Template is a compute template in normalised form, whatever it was read from.
type Template struct {
	// Kind is where the template came from: ComputeTemplate, ConfigMap or
	// ClusterComputeTemplate.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Namespace is empty for a ClusterComputeTemplate.
	Namespace string                       `json:"namespace,omitempty"`
	Spec      v1alpha1.ComputeTemplateSpec `json:"spec"`
}

// TemplateSource answers template lookups (an informer cache backed by the
// API server, or an in-memory set). Each method returns a nil template and
// a nil error when the template does not exist; a non-nil error means the
// lookup itself failed (the answer is unknown, so the request may be
// retried), except *InvalidTemplateError, which reports a template that
// exists but cannot be read.
type TemplateSource interface {
	// ComputeTemplate returns the namespaced ComputeTemplate namespace/name.
	ComputeTemplate(ctx context.Context, namespace, name string) (*Template, error)
	// ConfigMapTemplate returns the API-server ConfigMap namespace/name,
	// labelled ray.io/config-type=compute-template, parsed.
	ConfigMapTemplate(ctx context.Context, namespace, name string) (*Template, error)
	// ClusterComputeTemplate returns the cluster-scoped template name.
	ClusterComputeTemplate(ctx context.Context, name string) (*Template, error)
	// Names lists the templates visible from namespace as "Kind/name".
	Names(ctx context.Context, namespace string, withConfigMaps bool) ([]string, error)
}

// InvalidTemplateError reports a template that exists but cannot be read
// (a ConfigMap template with bad data): the user's problem, not a failed
// lookup.
type InvalidTemplateError struct{ Err error }

func (e *InvalidTemplateError) Error() string { return e.Err.Error() }

// Unwrap returns the parse error.
func (e *InvalidTemplateError) Unwrap() error { return e.Err }

// TemplateFromComputeTemplate normalises a ComputeTemplate.
func TemplateFromComputeTemplate(ct *v1alpha1.ComputeTemplate) *Template {
	return &Template{Kind: KindComputeTemplate, Name: ct.Name, Namespace: ct.Namespace, Spec: ct.Spec}
}

// TemplateFromClusterComputeTemplate normalises a ClusterComputeTemplate.
func TemplateFromClusterComputeTemplate(ct *v1alpha1.ClusterComputeTemplate) *Template {
	return &Template{Kind: KindClusterComputeTemplate, Name: ct.Name, Spec: ct.Spec}
}

// apiServerToleration is the KubeRay API server's stored toleration shape.
type apiServerToleration struct {
	Key      string `json:"key,omitempty"`
	Operator string `json:"operator,omitempty"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect,omitempty"`
}

// TemplateFromConfigMap parses a ConfigMap written by the KubeRay API server
// (data keys cpu, memory, memory_unit, gpu, gpu_accelerator,
// extended_resources, tolerations). Unlike the API server it reports bad
// values instead of reading them as zero, accepts quantities such as "500m",
// and reads a missing memory_unit as "Gi" (the API's documented default).
func TemplateFromConfigMap(namespace, name string, data map[string]string) (*Template, error) {
	where := fmt.Sprintf("ConfigMap %s/%s", namespace, name)
	t := &Template{Kind: KindConfigMap, Name: name, Namespace: namespace}
	cpu, err := positiveQuantity(data["cpu"], "")
	if err != nil {
		return nil, fmt.Errorf("%s data.cpu: %w", where, err)
	}
	unit, ok := data["memory_unit"]
	if !ok || unit == "" {
		unit = "Gi"
	}
	mem, err := positiveQuantity(data["memory"], unit)
	if err != nil {
		return nil, fmt.Errorf("%s data.memory: %w", where, err)
	}
	t.Spec.CPU, t.Spec.Memory = cpu, mem
	if g := strings.TrimSpace(data["gpu"]); g != "" {
		n, err := strconv.ParseInt(g, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s data.gpu: Invalid value: %q: must be a whole number >= 0", where, g)
		}
		t.Spec.GPU = int32(n)
	}
	t.Spec.GPUAccelerator = strings.TrimSpace(data["gpu_accelerator"])
	if raw := strings.TrimSpace(data["extended_resources"]); raw != "" && raw != "null" {
		var ext map[string]json.Number
		if err := json.Unmarshal([]byte(raw), &ext); err != nil {
			return nil, fmt.Errorf("%s data.extended_resources: must be a JSON object of name to count: %w", where, err)
		}
		for _, k := range slices.Sorted(maps.Keys(ext)) {
			q, err := quantity.Parse(ext[k].String())
			if err != nil {
				return nil, fmt.Errorf("%s data.extended_resources[%s]: Invalid value: %q: %w", where, k, ext[k], err)
			}
			if q.IsZero() {
				continue // the API server skips zero amounts
			}
			if t.Spec.ExtendedResources == nil {
				t.Spec.ExtendedResources = map[corev1.ResourceName]resource.Quantity{}
			}
			t.Spec.ExtendedResources[corev1.ResourceName(k)] = q
		}
	}
	if raw := strings.TrimSpace(data["tolerations"]); raw != "" && raw != "null" {
		var tols []apiServerToleration
		if err := json.Unmarshal([]byte(raw), &tols); err != nil {
			return nil, fmt.Errorf("%s data.tolerations: must be a JSON list of {key, operator, value, effect}: %w", where, err)
		}
		for _, tol := range tols {
			t.Spec.Tolerations = append(t.Spec.Tolerations, apiServerTolerationToCore(tol))
		}
	}
	return t, nil
}

// apiServerTolerationToCore converts like the API server v1 did: operator
// Exists stays, anything else is Equal; effect NoExecute/NoSchedule stay,
// anything else (including "") is PreferNoSchedule.
func apiServerTolerationToCore(t apiServerToleration) corev1.Toleration {
	out := corev1.Toleration{Key: t.Key, Value: t.Value, Operator: corev1.TolerationOpEqual, Effect: corev1.TaintEffectPreferNoSchedule}
	if t.Operator == string(corev1.TolerationOpExists) {
		out.Operator = corev1.TolerationOpExists
	}
	switch corev1.TaintEffect(t.Effect) {
	case corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule:
		out.Effect = corev1.TaintEffect(t.Effect)
	}
	return out
}

func positiveQuantity(v, unit string) (resource.Quantity, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return resource.Quantity{}, fmt.Errorf("Required value: must be set")
	}
	q, err := quantity.Parse(v + unit)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("Invalid value: %q: not a quantity: %w", v+unit, err)
	}
	if q.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("Invalid value: %q: must be greater than 0", v+unit)
	}
	return q, nil
}

// TemplateSet is an in-memory TemplateSource, used by `raypilot expand` and
// tests. The zero value is empty and ready to use.
type TemplateSet struct {
	namespaced map[string]*Template // key namespace/name
	configMaps map[string]configMapEntry
	cluster    map[string]*Template
}

type configMapEntry struct {
	t   *Template
	err error
}

// AddComputeTemplate adds a namespaced ComputeTemplate.
func (s *TemplateSet) AddComputeTemplate(ct *v1alpha1.ComputeTemplate) {
	if s.namespaced == nil {
		s.namespaced = map[string]*Template{}
	}
	s.namespaced[ct.Namespace+"/"+ct.Name] = TemplateFromComputeTemplate(ct)
}

// AddClusterComputeTemplate adds a ClusterComputeTemplate.
func (s *TemplateSet) AddClusterComputeTemplate(ct *v1alpha1.ClusterComputeTemplate) {
	if s.cluster == nil {
		s.cluster = map[string]*Template{}
	}
	s.cluster[ct.Name] = TemplateFromClusterComputeTemplate(ct)
}

// AddConfigMap adds an API-server ConfigMap template; a parse error is kept
// and reported when the template is looked up.
func (s *TemplateSet) AddConfigMap(namespace, name string, data map[string]string) {
	if s.configMaps == nil {
		s.configMaps = map[string]configMapEntry{}
	}
	t, err := TemplateFromConfigMap(namespace, name, data)
	s.configMaps[namespace+"/"+name] = configMapEntry{t: t, err: err}
}

// ComputeTemplate implements TemplateSource.
func (s *TemplateSet) ComputeTemplate(_ context.Context, namespace, name string) (*Template, error) {
	return s.namespaced[namespace+"/"+name], nil
}

// ConfigMapTemplate implements TemplateSource.
func (s *TemplateSet) ConfigMapTemplate(_ context.Context, namespace, name string) (*Template, error) {
	e, ok := s.configMaps[namespace+"/"+name]
	if ok && e.err != nil {
		return nil, &InvalidTemplateError{Err: e.err}
	}
	return e.t, nil
}

// ClusterComputeTemplate implements TemplateSource.
func (s *TemplateSet) ClusterComputeTemplate(_ context.Context, name string) (*Template, error) {
	return s.cluster[name], nil
}

// Names implements TemplateSource.
func (s *TemplateSet) Names(_ context.Context, namespace string, withConfigMaps bool) ([]string, error) {
	var out []string
	for _, t := range s.namespaced {
		if t.Namespace == namespace {
			out = append(out, KindComputeTemplate+"/"+t.Name)
		}
	}
	if withConfigMaps {
		for key := range s.configMaps {
			if ns, name, _ := strings.Cut(key, "/"); ns == namespace {
				out = append(out, KindConfigMap+"/"+name)
			}
		}
	}
	for name := range s.cluster {
		out = append(out, KindClusterComputeTemplate+"/"+name)
	}
	slices.Sort(out)
	return out, nil
}
