package defaults

import (
	"encoding/json"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// setDefault sets m[key] = v when key is absent (or null).
func setDefault(m obj, key string, v any) {
	if cur, ok := m[key]; !ok || cur == nil {
		m[key] = v
	}
}

// fillStringMap adds the keys of from that m lacks; force overwrites.
func fillStringMap(m obj, from map[string]string, force bool) {
	for k, v := range from {
		if _, ok := m[k]; force || !ok {
			m[k] = v
		}
	}
}

// appendMissing appends each item of add that list does not already hold
// (compared as JSON) and returns the new list.
func appendMissing(list []any, add []any) []any {
	have := map[string]bool{}
	for _, v := range list {
		have[jsonKey(v)] = true
	}
	for _, v := range add {
		if k := jsonKey(v); !have[k] {
			list = append(list, v)
			have[k] = true
		}
	}
	return list
}

func jsonKey(v any) string {
	data, _ := jsontree.Encode(v)
	return string(data)
}

func toList[T any](items []T) []any {
	out := make([]any, 0, len(items))
	for _, it := range items {
		out = append(out, jsontree.FromTyped(it))
	}
	return out
}

func pullSecrets(names []string) []any {
	refs := make([]corev1.LocalObjectReference, 0, len(names))
	for _, n := range names {
		refs = append(refs, corev1.LocalObjectReference{Name: n})
	}
	return toList(refs)
}

func (c *clusterExpansion) imageFor() (string, bool) {
	pattern := c.in.Policy.Defaults.Image
	if strings.Contains(pattern, "{rayVersion}") {
		if c.rayVersion == "" {
			return "", false
		}
		pattern = strings.ReplaceAll(pattern, "{rayVersion}", c.rayVersion)
	}
	return pattern, true
}

// enforcePolicy overwrites the fields the policy enforces (policyFields,
// in table order). Maps: the policy's keys win; lists and scalars: the
// policy's value replaces the user's.
func (c *clusterExpansion) enforcePolicy(p *podTemplate) {
	pol := c.in.Policy
	for _, f := range policyFields {
		if pol.Enforces(f.name) {
			f.enforce(c, p, &pol.Defaults)
		}
	}
}

// podLevelSecurityFields are the SecurityContext fields that also exist on
// the PodSecurityContext; a container's own value wins in Kubernetes.
var podLevelSecurityFields = []string{"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "windowsOptions", "appArmorProfile"}

// holdPodSecurityContext makes an enforced pod security context the
// effective one for ctr: each field the policy sets that ctr's own
// securityContext also sets is replaced by the policy's value.
func holdPodSecurityContext(ctr obj, pod *corev1.PodSecurityContext) {
	sc, _ := ctr["securityContext"].(obj)
	if sc == nil {
		return
	}
	enforced, _ := jsontree.FromTyped(pod).(obj)
	for _, k := range podLevelSecurityFields {
		if v, set := enforced[k]; set {
			if _, has := sc[k]; has {
				sc[k] = jsontree.DeepCopy(v)
			}
		}
	}
}

// applyTemplate fills the compute template into the Ray container (never a
// sidecar): requests = limits for cpu and memory, GPU, extended resources;
// tolerations and nodeSelector on the pod.
func (c *clusterExpansion) applyTemplate(p *podTemplate, t *Template) {
	if t == nil {
		return
	}
	resFld := p.rayFld.Child("resources")
	res := c.Object(p.ray, "resources", resFld, true)
	requests := c.Object(res, "requests", resFld.Child("requests"), true)
	limits := c.Object(res, "limits", resFld.Child("limits"), true)
	if requests == nil || limits == nil {
		return
	}
	// A resource the user sized on either side is theirs: filling only the
	// other side could put a request above a limit.
	set := func(name, qty string) {
		_, hasReq := requests[name]
		_, hasLim := limits[name]
		if !hasReq && !hasLim {
			requests[name], limits[name] = qty, qty
		}
	}
	set("cpu", t.Spec.CPU.String())
	set("memory", t.Spec.Memory.String())
	if t.Spec.GPU > 0 {
		accel := t.Spec.GPUAccelerator
		if accel == "" {
			accel = DefaultGPUAccelerator
		}
		set(accel, strconv.Itoa(int(t.Spec.GPU)))
	}
	for _, name := range sortedKeys(t.Spec.ExtendedResources) {
		q := t.Spec.ExtendedResources[name]
		if !q.IsZero() {
			set(string(name), q.String())
		}
	}
	if len(t.Spec.Tolerations) > 0 {
		if list, ok := c.List(p.spec, "tolerations", p.specFld.Child("tolerations")); ok {
			p.spec["tolerations"] = appendMissing(list, toList(t.Spec.Tolerations))
		}
	}
	if len(t.Spec.NodeSelector) > 0 {
		if m := c.StringMap(p.spec, "nodeSelector", p.specFld.Child("nodeSelector"), true); m != nil {
			fillStringMap(m, t.Spec.NodeSelector, false)
		}
	}
}

// applyPolicyDefaults fills the policy's defaults (policyFields, in table
// order) where the pod template leaves them unset.
func (c *clusterExpansion) applyPolicyDefaults(p *podTemplate) {
	d := &c.in.Policy.Defaults
	for _, f := range policyFields {
		if f.set(d) {
			f.fill(c, p, d)
		}
	}
}

func appendMissingByName(list []any, add []any) []any {
	for _, v := range add {
		name, _ := v.(obj)["name"].(string)
		if jsontree.NamedIndex(list, name) < 0 {
			list = append(list, v)
		}
	}
	return list
}

// applyBuiltins adds what a Ray container needs and the KubeRay operator
// does not add itself: head ports with KubeRay's names, MY_POD_IP (and the
// API server's resource env on workers), preStop `ray stop` on workers.
func (c *clusterExpansion) applyBuiltins(p *podTemplate, params obj) {
	if p.isHead {
		if ports, ok := c.List(p.ray, "ports", p.rayFld.Child("ports")); ok && len(ports) == 0 {
			p.ray["ports"] = c.headPorts(params)
		}
	}
	env, ok := c.List(p.ray, "env", p.rayFld.Child("env"))
	if !ok {
		return
	}
	// An expanded object (every update, the validating checks) has them
	// all: nothing to build.
	if !hasBuiltinEnv(env, p.isHead) {
		name, _ := p.ray["name"].(string)
		// Built by hand: a marshalled ResourceFieldSelector would carry divisor "0".
		fieldEnv := func(envName, path string) obj {
			return obj{"name": envName, "valueFrom": obj{"fieldRef": obj{"fieldPath": path}}}
		}
		var builtins []obj
		if !p.isHead {
			res := func(envName, resource string) obj {
				return obj{"name": envName, "valueFrom": obj{"resourceFieldRef": obj{"containerName": name, "resource": resource}}}
			}
			builtins = append(builtins,
				res("CPU_REQUEST", "requests.cpu"), res("CPU_LIMITS", "limits.cpu"),
				res("MEMORY_REQUESTS", "requests.memory"), res("MEMORY_LIMITS", "limits.memory"),
				fieldEnv("MY_POD_NAME", "metadata.name"))
		}
		builtins = append(builtins, fieldEnv("MY_POD_IP", "status.podIP"))
		// Built-ins go first: Kubernetes expands $(VAR) in a value only from
		// variables defined earlier in the list, so the user's env can refer to
		// them. A name the user set is the user's.
		var add []any
		for _, v := range builtins {
			if jsontree.NamedIndex(env, v["name"].(string)) < 0 {
				add = append(add, v)
			}
		}
		if len(add) > 0 {
			p.ray["env"] = append(add, env...)
		}
	}
	if !p.isHead {
		life := c.Object(p.ray, "lifecycle", p.rayFld.Child("lifecycle"), true)
		// Built only when missing: an expanded object (every update, the
		// validating checks) has it.
		if cur, ok := life["preStop"]; life != nil && (!ok || cur == nil) {
			life["preStop"] = obj{"exec": obj{"command": []any{"/bin/sh", "-c", "ray stop"}}}
		}
	}
}

// hasBuiltinEnv reports whether env holds every variable applyBuiltins
// gives a head (isHead) or worker Ray container.
func hasBuiltinEnv(env []any, isHead bool) bool {
	if jsontree.NamedIndex(env, "MY_POD_IP") < 0 {
		return false
	}
	if isHead {
		return true
	}
	for _, n := range [...]string{"CPU_REQUEST", "CPU_LIMITS", "MEMORY_REQUESTS", "MEMORY_LIMITS", "MY_POD_NAME"} {
		if jsontree.NamedIndex(env, n) < 0 {
			return false
		}
	}
	return true
}

// headPorts are the head container's ports when the user wrote none. A
// container with ports stops KubeRay from using its own defaults for the
// head Service (KubeRay v1.5.0 ray-operator/controllers/ray/common/service.go,
// getServicePorts / getDefaultPorts), so this is never fewer than KubeRay
// would have used: gcs-server, client, dashboard, metrics and serve, with
// the ports rayStartParams choose. Like the KubeRay API server
// (apiserver/pkg/util/cluster.go, buildHeadPodTemplate), serve clusters
// also get dashboard-agent.
func (c *clusterExpansion) headPorts(params obj) []any {
	port := func(name string, number int32) obj {
		return obj{"name": name, "containerPort": json.Number(strconv.Itoa(int(number)))}
	}
	ports := []any{
		port("gcs-server", portParam(params, "port", 6379)),
		port("client", portParam(params, "ray-client-server-port", 10001)),
		port("dashboard", portParam(params, "dashboard-port", 8265)),
		port("metrics", portParam(params, "metrics-export-port", 8080)),
		port("serve", 8000), // Ray Serve's default HTTP port (python/ray/serve/_private/constants.py, DEFAULT_HTTP_PORT)
	}
	if c.serve != serveNone {
		ports = append(ports, port("dashboard-agent", portParam(params, "dashboard-agent-listen-port", 52365)))
	}
	return ports
}

func portParam(params obj, key string, def int32) int32 {
	if s, ok := params[key].(string); ok {
		if n, err := strconv.ParseInt(s, 10, 32); err == nil && n > 0 && n < 65536 {
			return int32(n)
		}
	}
	return def
}

// applyVolumes adds each compact volume as a pod volume and a mount in the
// Ray container; names (and mount paths) already present are left alone.
func (c *clusterExpansion) applyVolumes(p *podTemplate, vols []*CompactVolume) {
	if len(vols) == 0 {
		return
	}
	volumes, ok := c.List(p.spec, "volumes", p.specFld.Child("volumes"))
	mounts, ok2 := c.List(p.ray, "volumeMounts", p.rayFld.Child("volumeMounts"))
	if !ok || !ok2 {
		return
	}
	idx := newVolumeIndex(volumes, mounts)
	for _, v := range vols {
		j, ok := c.volumeJSON[v]
		if !ok {
			if cached, ok := c.cachedVolumeJSON[v]; ok {
				j = [2]any{jsontree.DeepCopy(cached[0]), jsontree.DeepCopy(cached[1])} // the cache's are shared
			} else {
				j = [2]any{jsontree.FromTyped(v.PodVolume()), jsontree.FromTyped(v.Mount())}
			}
			c.volumeJSON[v] = j
		}
		// Every group using v gets the same tree: nothing edits a pod
		// volume or a mount once added (this is the last step writing
		// them), and copying them per group was a fifth of a large
		// cluster's admission.
		if idx.addVolume(v.Name) {
			volumes = append(volumes, j[0])
		}
		if idx.addMount(v.Name, v.MountPath) {
			mounts = append(mounts, j[1])
		}
	}
	p.spec["volumes"] = volumes
	p.ray["volumeMounts"] = mounts
}

// number parses a JSON number or numeric string.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}
