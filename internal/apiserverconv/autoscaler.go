package apiserverconv

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/quantity"
)

// upscalingModes are KubeRay v1.5.0's (ray-operator/apis/ray/v1/raycluster_types.go, UpscalingMode).
var upscalingModes = []string{"Default", "Aggressive", "Conservative"}

// autoscalerOptions converts AutoscalerOptions as the API server did
// (KubeRay v1.5.0 apiserver/pkg/util/cluster.go, buildAutoscalerOptions).
func (c *converter) autoscalerOptions(a *autoscalerReq, fld *field.Path) omap {
	if a == nil {
		return nil
	}
	out := omap{}
	if a.UpscalingMode != "" {
		if !slices.Contains(upscalingModes, a.UpscalingMode) {
			c.errs = append(c.errs, field.NotSupported(fld.Child("upscalingMode"), a.UpscalingMode, upscalingModes))
		}
		out = out.with("upscalingMode", a.UpscalingMode)
	}
	switch {
	case a.IdleTimeoutSeconds > 0:
		out = out.with("idleTimeoutSeconds", a.IdleTimeoutSeconds)
	case a.IdleTimeoutSeconds < 0:
		c.errs = append(c.errs, field.Invalid(fld.Child("idleTimeoutSeconds"), a.IdleTimeoutSeconds, "must be >= 0 (0: KubeRay's default)"))
	}
	if a.Image != "" {
		out = out.with("image", a.Image)
	}
	// The API server set only Always (in any case); KubeRay's default for
	// the autoscaler is IfNotPresent.
	switch {
	case strings.EqualFold(a.ImagePullPolicy, "Always"):
		out = out.with("imagePullPolicy", "Always")
	case a.ImagePullPolicy == "" || strings.EqualFold(a.ImagePullPolicy, "IfNotPresent"):
	default:
		c.errs = append(c.errs, field.NotSupported(fld.Child("imagePullPolicy"), a.ImagePullPolicy, []string{"Always", "IfNotPresent"}))
	}
	if a.CPU != "" || a.Memory != "" {
		// requests = limits, each defaulting to KubeRay's own 500m / 512Mi.
		res := omap{}.with("cpu", c.quantityOr(a.CPU, "500m", fld.Child("cpu"))).
			with("memory", c.quantityOr(a.Memory, "512Mi", fld.Child("memory")))
		out = out.with("resources", omap{}.with("limits", res).with("requests", res))
	}
	if a.Envs != nil {
		if env := c.env(nil, nil, &envReq{Values: a.Envs.Values}, fld.Child("envs")); len(env) > 0 {
			out = out.with("env", env)
		}
		if from := c.autoscalerEnvFrom(a.Envs.ValuesFrom, fld.Child("envs", "valuesFrom")); len(from) > 0 {
			out = out.with("envFrom", from)
		}
	}
	if mounts := c.autoscalerMounts(a.Volumes, fld.Child("volumes")); len(mounts) > 0 {
		out = out.with("volumeMounts", mounts)
	}
	return out
}

func (c *converter) quantityOr(v, def string, fld *field.Path) string {
	if v == "" {
		return def
	}
	if _, err := quantity.Parse(v); err != nil {
		c.errs = append(c.errs, field.Invalid(fld, v, "must be a Kubernetes quantity such as 500m or 512Mi"))
	}
	return v
}

// autoscalerEnvFrom converts the autoscaler's valuesFrom as the API server
// did (convertEnvFrom): a CONFIGMAP or SECRET entry loads every key of it
// (envFrom), which a warning says, since the entry's name and key are not
// used; RESOURCEFIELD and FIELD entries it dropped are errors.
func (c *converter) autoscalerEnvFrom(from map[string]*envFromReq, fld *field.Path) []any {
	var out []any
	for _, name := range slices.Sorted(maps.Keys(from)) {
		f, efld := from[name], fld.Key(name)
		switch f.Source {
		case "CONFIGMAP":
			out = append(out, omap{}.with("configMapRef", omap{}.with("name", f.Name)))
			c.warn(efld, "converted as the API server did: every key of ConfigMap %q becomes a variable of the autoscaler (envFrom); the name %q and key %q are not used", f.Name, name, f.Key)
		case "SECRET":
			out = append(out, omap{}.with("secretRef", omap{}.with("name", f.Name)))
			c.warn(efld, "converted as the API server did: every key of Secret %q becomes a variable of the autoscaler (envFrom); the name %q and key %q are not used", f.Name, name, f.Key)
		default:
			c.errs = append(c.errs, field.Forbidden(efld.Child("source"), f.Source+
				" is not converted: the API server dropped it for the autoscaler; remove it, and write the variable into spec.autoscalerOptions.env of the converted object"))
		}
	}
	return out
}

// autoscalerMounts are the autoscaler's mounts of head pod volumes
// (buildVolumeMounts): only a volume's name, mountPath, readOnly and
// mountPropagationMode are used, as the API server did.
func (c *converter) autoscalerMounts(vols []*volumeReq, fld *field.Path) []any {
	var out []any
	for i, v := range vols {
		vfld := fld.Index(i)
		if v.Name == "" {
			c.required(vfld.Child("name"), "the name of a volume of the head pod")
		}
		if v.MountPath == "" {
			c.required(vfld.Child("mountPath"), "where the autoscaler container mounts it")
		}
		var unused []string
		for _, k := range v.given {
			if !slices.Contains([]string{"name", "mountPath", "readOnly", "mountPropagationMode"}, k) {
				unused = append(unused, k)
			}
		}
		if len(unused) > 0 {
			c.warn(vfld, "not used: %s (the autoscaler mounts a volume of the head pod by name; only name, mountPath, readOnly and mountPropagationMode count, as with the API server)", strings.Join(unused, ", "))
		}
		m := omap{}.with("name", v.Name).with("mountPath", v.MountPath)
		if v.ReadOnly {
			m = m.with("readOnly", true)
		}
		switch v.MountPropagationMode {
		case "HOSTTOCONTAINER":
			m = m.with("mountPropagation", "HostToContainer")
		case "BIDIRECTIONAL":
			m = m.with("mountPropagation", "Bidirectional")
		}
		out = append(out, m)
	}
	return out
}
