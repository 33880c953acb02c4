package apiserverconv

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/quantity"
)

// computeTemplate converts a ComputeTemplate request into a raypilot
// ComputeTemplate. The API server stored the request as a ConfigMap
// (KubeRay v1.5.0 apiserver/pkg/util/cluster.go, NewComputeTemplate) and
// sized pods from it; raypilot reads such ConfigMaps too
// (defaults.TemplateFromConfigMap). The conversion builds that ConfigMap's
// data and reads it the same way, so a converted template sizes pods
// exactly as the API server's ConfigMap does under raypilot.
func (c *converter) computeTemplate(t *computeTemplateReq) Object {
	// The API server's checks (apiserver/pkg/server/compute_template_server.go,
	// ValidateCreateComputeTemplateRequest; NewComputeTemplate).
	if t.CPU == 0 {
		c.required(field.NewPath("cpu"), "a whole number of CPUs greater than 0")
	}
	if t.Memory == 0 {
		c.required(field.NewPath("memory"), "a whole number of memory units (memoryUnit, default Gi) greater than 0")
	}
	if t.GPU > math.MaxInt32 {
		c.errs = append(c.errs, field.Invalid(field.NewPath("gpu"), t.GPU, fmt.Sprintf("must be at most %d", math.MaxInt32)))
	}
	unit := t.MemoryUnit
	if unit == "" {
		unit = "Gi"
	}
	if _, err := quantity.Parse(fmt.Sprint(t.Memory) + unit); err != nil {
		c.errs = append(c.errs, field.Invalid(field.NewPath("memoryUnit"), t.MemoryUnit, "must be a unit of a Kubernetes quantity such as Gi, Mi or G"))
	}
	meta := c.metadata(t.Name, t.Namespace, nil, nil)
	if len(c.errs) > 0 {
		return Object{}
	}
	data := map[string]string{
		"cpu":             strconv.FormatUint(uint64(t.CPU), 10),
		"memory":          strconv.FormatUint(uint64(t.Memory), 10),
		"memory_unit":     unit,
		"gpu":             strconv.FormatUint(uint64(t.GPU), 10),
		"gpu_accelerator": t.GPUAccelerator,
	}
	ext, _ := json.Marshal(t.ExtendedResources) // map[string]uint32 always encodes
	data["extended_resources"] = string(ext)
	if len(t.Tolerations) > 0 {
		tols, _ := json.Marshal(t.Tolerations) // strings only
		data["tolerations"] = string(tols)
	}
	tpl, err := defaults.TemplateFromConfigMap(t.Namespace, t.Name, data)
	if err != nil {
		c.errs = append(c.errs, field.InternalError(nil, fmt.Errorf("the template the API server would have stored cannot be read: %w", err)))
		return Object{}
	}
	spec := omap{}.with("cpu", tpl.Spec.CPU.String()).with("memory", tpl.Spec.Memory.String())
	if tpl.Spec.GPU > 0 {
		spec = spec.with("gpu", tpl.Spec.GPU)
	}
	if tpl.Spec.GPUAccelerator != "" {
		spec = spec.with("gpuAccelerator", tpl.Spec.GPUAccelerator)
	}
	if len(tpl.Spec.ExtendedResources) > 0 {
		res := omap{}
		for _, name := range slices.Sorted(maps.Keys(tpl.Spec.ExtendedResources)) {
			q := tpl.Spec.ExtendedResources[name]
			res = res.with(string(name), q.String())
		}
		spec = spec.with("extendedResources", res)
	}
	if len(tpl.Spec.Tolerations) > 0 {
		tols := make([]any, 0, len(tpl.Spec.Tolerations))
		for _, tol := range tpl.Spec.Tolerations {
			tols = append(tols, toleration(tol))
		}
		spec = spec.with("tolerations", tols)
	}
	return Object{value: omap{}.
		with("apiVersion", "raypilot.io/v1alpha1").with("kind", "ComputeTemplate").
		with("metadata", meta).with("spec", spec)}
}

func toleration(t corev1.Toleration) omap {
	m := omap{}
	if t.Key != "" {
		m = m.with("key", t.Key)
	}
	m = m.with("operator", string(t.Operator))
	if t.Value != "" {
		m = m.with("value", t.Value)
	}
	return m.with("effect", string(t.Effect))
}
