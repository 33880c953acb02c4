package apiserverconv

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

// podTemplate is a group's compact pod template: what the request set on
// the pod and its Ray container, and the group's own compact annotations.
// raypilot's expansion adds the rest (resources, ports, built-in env,
// volumes, preStop) as the API server did (buildHeadPodTemplate,
// buildWorkerPodTemplate in KubeRay v1.5.0 apiserver/pkg/util/cluster.go).
func (c *converter) podTemplate(g *group, version string, envs *envReq) omap {
	meta := omap{}
	if len(g.Labels) > 0 {
		meta = meta.with("labels", sortedMap(g.Labels))
	}
	written := map[string]string{}
	if g.templateRef != "" {
		written[defaults.AnnotationComputeTemplate] = g.templateRef
	}
	if g.volumes != "" {
		written[defaults.AnnotationVolumes] = g.volumes
	}
	// The group's own template named again on its pod template means the
	// same, wherever the conversion put the reference.
	allowed := map[string]string{defaults.AnnotationComputeTemplate: g.ComputeTemplate, defaults.AnnotationVolumes: g.volumes}
	if ann := c.mergeAnnotations(g.Annotations, g.fld.Child("annotations"), written, allowed); len(ann) > 0 {
		meta = meta.with("annotations", sortedMap(ann))
	}

	spec := omap{}
	// The API server ignored names of one character (len > 1), surely by
	// mistake: Kubernetes allows them.
	if g.ServiceAccount != "" {
		spec = spec.with("serviceAccountName", g.ServiceAccount)
	}
	if g.ImagePullSecret != "" {
		spec = spec.with("imagePullSecrets", []any{omap{}.with("name", g.ImagePullSecret)})
	}
	if ctr := c.container(g, version, envs); ctr != nil {
		spec = spec.with("containers", []any{ctr})
	}

	out := omap{}
	if len(meta) > 0 {
		out = out.with("metadata", meta)
	}
	if len(spec) > 0 {
		out = out.with("spec", spec)
	}
	return out
}

// container is the group's Ray container with what the request set on it,
// or nil when it set nothing (the expansion then creates it).
func (c *converter) container(g *group, version string, envs *envReq) omap {
	ctr := omap{}
	switch {
	case g.Image != "":
		ctr = ctr.with("image", g.Image)
	case version == "":
		// The API server wrote "rayproject/ray:" (no tag), which no node can pull.
		c.required(g.fld.Child("image"), "the Ray image, or the request's version for rayproject/ray:<version>")
	}
	// The API server wrote IfNotPresent when the request said nothing;
	// raypilot leaves that to Kubernetes (docs/kuberay-apiserver.md).
	if g.ImagePullPolicy != "" {
		ctr = ctr.with("imagePullPolicy", g.ImagePullPolicy)
	}
	if env := c.env(envs, field.NewPath("envs"), g.Environment, g.fld.Child("environment")); len(env) > 0 {
		ctr = ctr.with("env", env)
	}
	if sc := securityContext(g.SecurityContext); len(sc) > 0 {
		ctr = ctr.with("securityContext", sc)
	}
	if len(ctr) == 0 {
		return nil
	}
	name := defaults.WorkerContainerName
	if g.isHead {
		name = defaults.HeadContainerName
	}
	return append(omap{}.with("name", name), ctr...)
}

// env is the Ray container's env from the cluster's envs and the group's
// environment (convertEnvironmentVariables), sorted by name: the API
// server appended the cluster's then the group's, each in Go's random map
// order, so a group's variable overrides the cluster's of the same name
// (Kubernetes uses the last one).
func (c *converter) env(cluster *envReq, clusterFld *field.Path, grp *envReq, grpFld *field.Path) []any {
	vars := map[string]omap{}
	for _, src := range []struct {
		e   *envReq
		fld *field.Path
	}{{cluster, clusterFld}, {grp, grpFld}} {
		if src.e == nil {
			continue
		}
		for name, v := range src.e.Values {
			vars[name] = omap{}.with("name", name).with("value", v)
		}
		for _, name := range slices.Sorted(maps.Keys(src.e.ValuesFrom)) {
			if _, both := src.e.Values[name]; both {
				c.errs = append(c.errs, field.Duplicate(src.fld.Child("valuesFrom").Key(name), fmt.Sprintf("also in %s; keep one", src.fld.Child("values").Key(name))))
			}
			vars[name] = omap{}.with("name", name).with("valueFrom", envSource(src.e.ValuesFrom[name]))
		}
	}
	out := make([]any, 0, len(vars))
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, vars[name])
	}
	return out
}

// envSource is the valueFrom of an EnvValueFrom.
func envSource(from *envFromReq) omap {
	switch from.Source {
	case "SECRET":
		return omap{}.with("secretKeyRef", omap{}.with("name", from.Name).with("key", from.Key))
	case "RESOURCEFIELD":
		ref := omap{}
		if from.Name != "" {
			ref = ref.with("containerName", from.Name)
		}
		return omap{}.with("resourceFieldRef", ref.with("resource", from.Key))
	case "FIELD":
		return omap{}.with("fieldRef", omap{}.with("fieldPath", from.Key))
	}
	return omap{}.with("configMapKeyRef", omap{}.with("name", from.Name).with("key", from.Key))
}

// securityContext is the Ray container's (buildSecurityContext), without
// the empty capabilities the API server always wrote.
func securityContext(s *securityContextReq) omap {
	if s == nil {
		return nil
	}
	out := omap{}
	caps := omap{}
	if len(s.Add) > 0 {
		caps = caps.with("add", toAny(s.Add))
	}
	if len(s.Drop) > 0 {
		caps = caps.with("drop", toAny(s.Drop))
	}
	if len(caps) > 0 {
		out = out.with("capabilities", caps)
	}
	if s.Privileged != nil {
		out = out.with("privileged", *s.Privileged)
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
