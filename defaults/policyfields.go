package defaults

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// policyField is one enforceable field of PolicyDefaults: everything the
// engine does with it. ParsePolicy validates defaults and enforce names
// with it, the expansion fills and enforces with it (steps 2d and 2e of
// clusterExpansion.run), the RayJob submitter and the in-tree autoscaler
// sidecar are held to it, and the chart's enforce enum is tested against
// it. Adding an enforceable field is one row here plus its golden case.
type policyField struct {
	// name is the field's key under policy defaults and in enforce.
	name string
	// set reports whether the policy gives the field a default; only then
	// is it filled, and only then may it be enforced.
	set func(d *PolicyDefaults) bool
	// check returns what is wrong with a default that is set ("" if
	// nothing); nil when every value the type allows is valid.
	check func(d *PolicyDefaults) string
	// pod: the field is set on the pod, so a default of it alone makes the
	// engine write out KubeRay's default RayJob submitter pod for the
	// default to reach it.
	pod bool
	// fill writes the default where the pod template leaves it unset.
	fill func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults)
	// enforce writes the policy's value over whatever the pod template has.
	enforce func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults)
	// sidecar holds KubeRay's in-tree autoscaler container
	// (spec.autoscalerOptions) to the field; nil: the field does not reach
	// that container.
	sidecar func(c *clusterExpansion, opts obj, d *PolicyDefaults, enforced bool)
}

// policyFields is the table of enforceable fields, in the order they are
// filled, enforced and listed.
var policyFields = []policyField{
	{
		name: "image",
		set:  func(d *PolicyDefaults) bool { return d.Image != "" },
		fill: func(c *clusterExpansion, p *podTemplate, _ *PolicyDefaults) {
			if img, _ := p.ray["image"].(string); img != "" {
				return
			}
			if img, ok := c.imageFor(); ok {
				p.ray["image"] = img
			} else {
				c.Errs = append(c.Errs, requiredImage(p.rayFld.Child("image")))
			}
		},
		enforce: func(c *clusterExpansion, p *podTemplate, _ *PolicyDefaults) {
			if img, ok := c.imageFor(); ok {
				p.ray["image"] = img
			}
		},
	},
	{
		name: "imagePullPolicy",
		set:  func(d *PolicyDefaults) bool { return d.ImagePullPolicy != "" },
		check: func(d *PolicyDefaults) string {
			return oneOf(string(d.ImagePullPolicy), string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever))
		},
		pod: true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			setDefault(p.ray, "imagePullPolicy", string(d.ImagePullPolicy))
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.ray["imagePullPolicy"] = string(d.ImagePullPolicy)
		},
	},
	{
		name: "imagePullSecrets",
		set:  func(d *PolicyDefaults) bool { return len(d.ImagePullSecrets) > 0 },
		pod:  true,
		fill: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if list, ok := c.List(p.spec, "imagePullSecrets", p.specFld.Child("imagePullSecrets")); ok {
				p.spec["imagePullSecrets"] = appendMissingByName(list, pullSecrets(d.ImagePullSecrets))
			}
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["imagePullSecrets"] = pullSecrets(d.ImagePullSecrets)
		},
	},
	{
		name: "podLabels",
		set:  func(d *PolicyDefaults) bool { return len(d.PodLabels) > 0 },
		pod:  true,
		fill: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if m := c.StringMap(p.metadata(c), "labels", p.metaFld.Child("labels"), true); m != nil {
				fillStringMap(m, d.PodLabels, false)
			}
		},
		enforce: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if m := c.StringMap(p.metadata(c), "labels", p.metaFld.Child("labels"), true); m != nil {
				fillStringMap(m, d.PodLabels, true)
			}
			// KubeRay merges the group's labels (Ray node labels) over the
			// template's (ray-operator/controllers/ray/common/pod.go,
			// mergeLabels): an enforced key must hold there too.
			if m := c.StringMap(p.g, "labels", p.fld.Child("labels"), false); m != nil {
				for k, v := range d.PodLabels {
					if _, ok := m[k]; ok {
						m[k] = v
					}
				}
			}
		},
	},
	{
		name: "podAnnotations",
		set:  func(d *PolicyDefaults) bool { return len(d.PodAnnotations) > 0 },
		pod:  true,
		fill: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if m := c.Object(p.metadata(c), "annotations", p.metaFld.Child("annotations"), true); m != nil {
				fillStringMap(m, d.PodAnnotations, false)
			}
		},
		enforce: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if m := c.Object(p.metadata(c), "annotations", p.metaFld.Child("annotations"), true); m != nil {
				fillStringMap(m, d.PodAnnotations, true)
			}
		},
	},
	{
		name: "tolerations",
		set:  func(d *PolicyDefaults) bool { return len(d.Tolerations) > 0 },
		pod:  true,
		fill: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if list, ok := c.List(p.spec, "tolerations", p.specFld.Child("tolerations")); ok {
				p.spec["tolerations"] = appendMissing(list, toList(d.Tolerations))
			}
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["tolerations"] = toList(d.Tolerations)
		},
	},
	specStringMap("nodeSelector", func(d *PolicyDefaults) map[string]string { return d.NodeSelector }),
	specString("priorityClassName", func(d *PolicyDefaults) string { return d.PriorityClassName }),
	{
		name: "podSecurityContext",
		set:  func(d *PolicyDefaults) bool { return d.PodSecurityContext != nil },
		pod:  true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if p.spec["securityContext"] == nil {
				p.spec["securityContext"] = jsontree.FromTyped(d.PodSecurityContext)
			}
		},
		enforce: func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["securityContext"] = jsontree.FromTyped(d.PodSecurityContext)
			if c.in.Policy.Enforces("containerSecurityContext") {
				return // every container's own context is replaced anyway
			}
			forEachContainer(p.spec, func(ctr obj) { holdPodSecurityContext(ctr, d.PodSecurityContext) })
		},
		sidecar: func(c *clusterExpansion, opts obj, d *PolicyDefaults, enforced bool) {
			if enforced && !c.in.Policy.Enforces("containerSecurityContext") {
				holdPodSecurityContext(opts, d.PodSecurityContext)
			}
		},
	},
	{
		name: "containerSecurityContext",
		set:  func(d *PolicyDefaults) bool { return d.ContainerSecurityContext != nil },
		pod:  true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if p.ray["securityContext"] == nil {
				p.ray["securityContext"] = jsontree.FromTyped(d.ContainerSecurityContext)
			}
		},
		// Every container, so that a sidecar cannot escape it.
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			forEachContainer(p.spec, func(ctr obj) { ctr["securityContext"] = jsontree.FromTyped(d.ContainerSecurityContext) })
		},
		sidecar: func(_ *clusterExpansion, opts obj, d *PolicyDefaults, enforced bool) {
			if enforced || opts["securityContext"] == nil {
				opts["securityContext"] = jsontree.FromTyped(d.ContainerSecurityContext)
			}
		},
	},
	rayStartParams("headRayStartParams", true, func(d *PolicyDefaults) map[string]string { return d.HeadRayStartParams }),
	rayStartParams("workerRayStartParams", false, func(d *PolicyDefaults) map[string]string { return d.WorkerRayStartParams }),
	{
		name: "serviceAccountName",
		set:  func(d *PolicyDefaults) bool { return d.ServiceAccountName != "" },
		pod:  true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if p.spec["serviceAccount"] == nil { // the deprecated alias Kubernetes still reads
				setDefault(p.spec, "serviceAccountName", d.ServiceAccountName)
			}
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["serviceAccountName"] = d.ServiceAccountName
			delete(p.spec, "serviceAccount")
		},
	},
	{
		name: "automountServiceAccountToken",
		set:  func(d *PolicyDefaults) bool { return d.AutomountServiceAccountToken != nil },
		pod:  true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			setDefault(p.spec, "automountServiceAccountToken", *d.AutomountServiceAccountToken)
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["automountServiceAccountToken"] = *d.AutomountServiceAccountToken
		},
	},
	{
		name: "runtimeClassName",
		set:  func(d *PolicyDefaults) bool { return d.RuntimeClassName != "" },
		// Kubernetes refuses pods whose runtimeClassName is not a DNS
		// subdomain (pkg/apis/core/validation, ValidateRuntimeClassName).
		check: func(d *PolicyDefaults) string {
			if msgs := validation.IsDNS1123Subdomain(d.RuntimeClassName); len(msgs) > 0 {
				return fmt.Sprintf("Invalid value: %q: %s", d.RuntimeClassName, strings.Join(msgs, "; "))
			}
			return ""
		},
		pod: true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			setDefault(p.spec, "runtimeClassName", d.RuntimeClassName)
		},
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec["runtimeClassName"] = d.RuntimeClassName
		},
	},
}

// EnforceableFields returns the names Policy.Enforce accepts, in table order.
func EnforceableFields() []string {
	names := make([]string, len(policyFields))
	for i, f := range policyFields {
		names[i] = f.name
	}
	return names
}

// policyFieldNamed returns the row of name, or nil.
func policyFieldNamed(name string) *policyField {
	i := slices.IndexFunc(policyFields, func(f policyField) bool { return f.name == name })
	if i < 0 {
		return nil
	}
	return &policyFields[i]
}

// specString is a string field of the pod spec under the same name.
func specString(name string, get func(*PolicyDefaults) string) policyField {
	return policyField{
		name: name,
		set:  func(d *PolicyDefaults) bool { return get(d) != "" },
		pod:  true,
		fill: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) { setDefault(p.spec, name, get(d)) },
		enforce: func(_ *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			p.spec[name] = get(d)
		},
	}
}

// specStringMap is a string map of the pod spec under the same name: the
// default adds the keys the pod lacks, enforcement overwrites the policy's
// keys and keeps the others.
func specStringMap(name string, get func(*PolicyDefaults) map[string]string) policyField {
	apply := func(force bool) func(*clusterExpansion, *podTemplate, *PolicyDefaults) {
		return func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if m := c.StringMap(p.spec, name, p.specFld.Child(name), true); m != nil {
				fillStringMap(m, get(d), force)
			}
		}
	}
	return policyField{
		name:    name,
		set:     func(d *PolicyDefaults) bool { return len(get(d)) > 0 },
		pod:     true,
		fill:    apply(false),
		enforce: apply(true),
	}
}

// rayStartParams is a group's rayStartParams, for the head group or for
// worker groups. The submitter pod has no group: it is left alone.
func rayStartParams(name string, head bool, get func(*PolicyDefaults) map[string]string) policyField {
	apply := func(force bool) func(*clusterExpansion, *podTemplate, *PolicyDefaults) {
		return func(c *clusterExpansion, p *podTemplate, d *PolicyDefaults) {
			if p.isHead != head || p.g == nil {
				return
			}
			if m := c.StringMap(p.g, "rayStartParams", p.fld.Child("rayStartParams"), true); m != nil {
				fillStringMap(m, get(d), force)
			}
		}
	}
	return policyField{
		name:    name,
		set:     func(d *PolicyDefaults) bool { return len(get(d)) > 0 },
		fill:    apply(false),
		enforce: apply(true),
	}
}

// oneOf returns "" when v is one of allowed, else the problem.
func oneOf(v string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return ""
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	return fmt.Sprintf("Unsupported value: %q: supported values: %s", v, strings.Join(quoted, ", "))
}

// forEachContainer calls fn on every container and init container of spec.
func forEachContainer(spec obj, fn func(ctr obj)) {
	for _, key := range []string{"containers", "initContainers"} {
		list, _ := spec[key].([]any)
		for _, ctr := range list {
			if m, ok := ctr.(obj); ok {
				fn(m)
			}
		}
	}
}
