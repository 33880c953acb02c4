package defaults

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
	"github.com/raypilot/raypilot/internal/quantity"
)

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

func dns1035(name string) []string { return validation.IsDNS1035Label(name) }

func requiredImage(fld *field.Path) *field.Error {
	return field.Required(fld, "set an image on the Ray container, or spec.rayVersion so the default image pattern applies")
}

// groupName checks that a worker group name is present, a DNS-1123 label
// (it becomes part of pod names and the ray.io/group label) and unique.
func (c *clusterExpansion) groupName(g obj, fld *field.Path, seen map[string]bool) {
	nameFld := fld.Child("groupName")
	name := c.Str(g, "groupName", nameFld)
	if name == "" {
		if _, ok := g["groupName"]; !ok || g["groupName"] == "" {
			c.Errs = append(c.Errs, field.Required(nameFld, "every worker group needs a name"))
		}
		return
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		c.Errs = append(c.Errs, field.Invalid(nameFld, name, "must be a DNS-1123 label: "+strings.Join(msgs, "; ")))
	}
	if seen[name] {
		c.Errs = append(c.Errs, field.Duplicate(nameFld, name))
	}
	seen[name] = true
}

// replicas fills a missing replicas (the stored value on UPDATE, else
// minReplicas), raises one below minReplicas to it, and checks the bounds.
func (c *clusterExpansion) replicas(g obj, fld *field.Path) {
	minR, hasMin := c.Integer(g, "minReplicas", fld.Child("minReplicas"))
	maxR, hasMax := c.Integer(g, "maxReplicas", fld.Child("maxReplicas"))
	if _, present := g["replicas"]; !present || g["replicas"] == nil {
		name, _ := g["groupName"].(string)
		if old, ok := c.oldReplicas[name]; ok && c.in.Operation == Update {
			g["replicas"] = old
		} else if hasMin {
			g["replicas"] = g["minReplicas"]
		}
	}
	rep, hasRep := c.Integer(g, "replicas", fld.Child("replicas"))
	// The RayCluster CRD defaults replicas to 0 before admission, so 0 may
	// mean "unset"; KubeRay clamps up to minReplicas anyway. Store what will run.
	if hasRep && hasMin && rep >= 0 && rep < minR && (!hasMax || minR <= maxR) {
		g["replicas"], rep = g["minReplicas"], minR
	}
	for _, f := range []struct {
		name string
		v    int64
		has  bool
	}{{"minReplicas", minR, hasMin}, {"maxReplicas", maxR, hasMax}, {"replicas", rep, hasRep}} {
		if f.has && f.v < 0 {
			c.Errs = append(c.Errs, field.Invalid(fld.Child(f.name), f.v, "must be >= 0"))
		}
	}
	if hasMin && hasMax && minR > maxR {
		c.Errs = append(c.Errs, field.Invalid(fld.Child("minReplicas"), minR, fmt.Sprintf("must be <= maxReplicas (%d)", maxR)))
	}
	if hasRep && hasMax && rep > maxR && (!hasMin || minR <= maxR) {
		c.Errs = append(c.Errs, field.Invalid(fld.Child("replicas"), rep, fmt.Sprintf("must be <= maxReplicas (%d)", maxR)))
	}
	if lim := int64(c.in.Policy.Limits.MaxReplicasPerGroup); lim > 0 && hasMax && maxR > lim {
		c.Errs = append(c.Errs, field.Invalid(fld.Child("maxReplicas"), maxR, fmt.Sprintf("must be <= %d (policy limits.maxReplicasPerGroup)", lim)).WithOrigin(OriginPolicy))
	}
}

// clusterWorkerLimit checks the policy's worker cap against the workers the
// cluster asks for now (replicas) and at least (minReplicas).
func (c *clusterExpansion) clusterWorkerLimit(groups []obj, fld *field.Path) {
	lim := int64(c.in.Policy.Limits.MaxWorkersPerCluster)
	if lim <= 0 {
		return
	}
	// Saturating: three groups at the int32 maximum must not wrap the sum
	// below the limit.
	var minSum, repSum int64
	for _, g := range groups {
		hosts := int64(1)
		if h, ok := number(g["numOfHosts"]); ok && h > 0 {
			hosts = count(h)
		}
		if v, ok := number(g["minReplicas"]); ok && v > 0 {
			minSum = saturatingAdd(minSum, saturatingMul(count(v), hosts))
		}
		if v, ok := number(g["replicas"]); ok && v > 0 {
			repSum = saturatingAdd(repSum, saturatingMul(count(v), hosts))
		}
	}
	if minSum > lim {
		c.Errs = append(c.Errs, field.Invalid(fld, minSum, fmt.Sprintf("minReplicas add up to %d workers, above the policy limit %d (limits.maxWorkersPerCluster)", minSum, lim)).WithOrigin(OriginPolicy))
	} else if repSum > lim {
		c.Errs = append(c.Errs, field.Invalid(fld, repSum, fmt.Sprintf("replicas add up to %d workers, above the policy limit %d (limits.maxWorkersPerCluster)", repSum, lim)).WithOrigin(OriginPolicy))
	}
}

// checkGroup applies the per-pod rules: policy limits on pod resources and
// images, KubeRay's own spec rules, and warnings for likely mistakes.
func (c *clusterExpansion) checkGroup(p *podTemplate, t *Template, params obj) {
	c.checkPod(p)
	c.checkRayStartParams(p, params)
	if p.isHead {
		c.checkServePort(p)
	}
	c.warnings = append(c.warnings, groupWarnings(p, t, params)...)
}

// checkPod applies the policy's per-pod rules: images, resource limits and
// placement.
func (c *clusterExpansion) checkPod(p *podTemplate) {
	// The scheduler reserves max(sum of containers and sidecars, each init
	// container plus the sidecars started before it), per resource.
	var sum, sidecars, initMax podResources
	for i, ctr := range p.containers {
		if m, ok := ctr.(obj); ok {
			cFld := p.specFld.Child("containers").Index(i)
			c.checkImage(m, cFld)
			sum.add(c.containerResources(m, cFld))
		}
	}
	inits, _ := p.spec["initContainers"].([]any)
	for i, ctr := range inits {
		m, ok := ctr.(obj)
		if !ok {
			continue
		}
		iFld := p.specFld.Child("initContainers").Index(i)
		c.checkImage(m, iFld)
		r := c.containerResources(m, iFld)
		if m["restartPolicy"] == "Always" {
			sidecars.add(r)
			continue
		}
		r.add(sidecars)
		initMax.max(r)
	}
	sum.add(sidecars)
	sum.max(initMax)
	// Pod-level resources (spec.resources) bound the whole pod; count them
	// when they ask for more than the containers add up to.
	if _, ok := p.spec["resources"]; ok {
		sum.max(c.containerResources(p.spec, p.specFld))
	}
	c.checkPodPlacement(p)
	c.checkMountPropagation(p)
	c.checkPodSecurity(p.spec, p.specFld)
	if p.isHead {
		c.headSpec = p.spec
		c.headResources = sum
	}
	c.checkPodLimits(sum, p.specFld.Child("containers"))
}

// checkServePort refuses a head whose own ports leave out "serve" where
// KubeRay needs it: KubeRay v1.5.0 fails the serve Service ("Please specify
// the port named 'serve' in the Ray head container"), and for a RayCluster
// that error aborts the reconcile before any pod is created.
func (c *clusterExpansion) checkServePort(p *podTemplate) {
	if c.serve != serveRequired {
		return
	}
	ports, _ := p.ray["ports"].([]any)
	for _, port := range ports {
		if m, ok := port.(obj); ok && m["name"] == "serve" {
			return
		}
	}
	what := "the cluster is annotated " + AnnotationEnableServeService + `: "true"`
	if c.fld.String() == "spec.rayClusterConfig" {
		what = "this RayService has no spec.serveService"
	}
	c.Errs = append(c.Errs, field.Required(p.rayFld.Child("ports"), fmt.Sprintf(
		"the head container must have a port named \"serve\" because %s: KubeRay builds the serve Service from it, and without it KubeRay's reconcile fails (a RayCluster gets no pods); add {name: serve, containerPort: 8000}, or leave ports empty to get KubeRay's default ports, serve included", what)))
}

// checkPodLimits applies limits.maxCPUPerPod, maxMemoryPerPod and
// maxGPUPerPod to what a pod asks for.
func (c *clusterExpansion) checkPodLimits(r podResources, podFld *field.Path) {
	lim := c.in.Policy.Limits
	cpu, mem, gpu := r.cpu, r.memory, r.gpu
	if lim.MaxCPUPerPod != nil && cpu.Cmp(*lim.MaxCPUPerPod) > 0 {
		c.Errs = append(c.Errs, field.Invalid(podFld, cpu.String(), fmt.Sprintf("the pod asks for %s CPU (its containers, or an init container, plus sidecars), above the policy limit %s (limits.maxCPUPerPod); use a smaller compute template", cpu.String(), lim.MaxCPUPerPod.String())).WithOrigin(OriginPolicy))
	}
	if lim.MaxMemoryPerPod != nil && mem.Cmp(*lim.MaxMemoryPerPod) > 0 {
		c.Errs = append(c.Errs, field.Invalid(podFld, mem.String(), fmt.Sprintf("the pod asks for %s memory (its containers, or an init container, plus sidecars), above the policy limit %s (limits.maxMemoryPerPod); use a smaller compute template", mem.String(), lim.MaxMemoryPerPod.String())).WithOrigin(OriginPolicy))
	}
	if lim.MaxGPUPerPod != nil && gpu > *lim.MaxGPUPerPod {
		c.Errs = append(c.Errs, field.Invalid(podFld, gpu, fmt.Sprintf("the pod asks for %d GPUs (its containers, or an init container, plus sidecars), above the policy limit %d (limits.maxGPUPerPod)", gpu, *lim.MaxGPUPerPod)).WithOrigin(OriginPolicy))
	}
}

// checkAutoscalerSidecar holds KubeRay's in-tree autoscaler container, which
// KubeRay builds into the head pod from spec.autoscalerOptions, to the
// policy like any other container: enforced or default security context,
// allowed image prefixes, and the head pod's limits with it included.
func (c *clusterExpansion) checkAutoscalerSidecar() {
	fld := c.fld.Child("autoscalerOptions")
	opts := c.Object(c.spec, "autoscalerOptions", fld, false)
	attached := opts != nil
	if !attached {
		opts = obj{}
	}
	pol := c.in.Policy
	for _, f := range policyFields {
		if f.sidecar != nil && f.set(&pol.Defaults) {
			f.sidecar(c, opts, &pol.Defaults, pol.Enforces(f.name))
		}
	}
	if !attached && len(opts) > 0 {
		c.spec["autoscalerOptions"] = opts
	}
	c.checkImage(opts, fld)
	if c.in.Policy.Limits.PodSecurity != "" && c.headSpec != nil {
		// The sidecar in the head pod (its pod-level securityContext
		// applies); the head's own containers were checked with the group.
		var sidecar corev1.Container
		if data, err := jsontree.Encode(opts); err == nil && json.Unmarshal(data, &sidecar) == nil {
			sidecar.Name = "autoscaler"
			pod := obj{"containers": []any{}}
			if sc, ok := c.headSpec["securityContext"]; ok {
				pod["securityContext"] = sc
			}
			c.checkPodSecurity(pod, fld, sidecar)
		}
	}
	head := c.headResources
	if res, _ := opts["resources"].(obj); res == nil {
		// KubeRay gives a sidecar without resources its own defaults
		// (ray-operator/controllers/ray/common/pod.go, BuildAutoscalerContainer).
		head.cpu.Add(defaultSidecarResources[corev1.ResourceCPU])
		head.memory.Add(defaultSidecarResources[corev1.ResourceMemory])
	} else {
		head.add(c.containerResources(opts, fld))
	}
	c.checkPodLimits(head, fld.Child("resources"))
}

func (c *clusterExpansion) checkImage(ctr obj, fld *field.Path) {
	prefixes := c.in.Policy.Limits.AllowedImagePrefixes
	img, _ := ctr["image"].(string)
	if len(prefixes) == 0 || img == "" {
		return
	}
	for _, pre := range prefixes {
		if strings.HasPrefix(img, pre) {
			return
		}
	}
	c.Errs = append(c.Errs, field.Invalid(fld.Child("image"), img, "must start with one of the allowed prefixes (policy limits.allowedImagePrefixes): "+strings.Join(prefixes, ", ")).WithOrigin(OriginPolicy))
}

// podResources is what a pod or container asks for, in the units the
// policy limits use.
type podResources struct {
	cpu, memory resource.Quantity
	gpu         int64
}

func (r *podResources) add(o podResources) {
	r.cpu.Add(o.cpu)
	r.memory.Add(o.memory)
	r.gpu = saturatingAdd(r.gpu, o.gpu)
}

func (r *podResources) max(o podResources) {
	if o.cpu.Cmp(r.cpu) > 0 {
		r.cpu = o.cpu
	}
	if o.memory.Cmp(r.memory) > 0 {
		r.memory = o.memory
	}
	r.gpu = max(r.gpu, o.gpu)
}

// containerResources reads a container's (or, given a pod spec, the
// pod-level) CPU, memory and GPUs (limits, else requests). Huge pages are
// memory: they are taken from the node's memory.
func (c *clusterExpansion) containerResources(ctr obj, fld *field.Path) podResources {
	res, _ := ctr["resources"].(obj)
	limits, _ := res["limits"].(obj)
	requests, _ := res["requests"].(obj)
	rFld := fld.Child("resources")
	out := podResources{
		cpu:    c.containerQuantity(limits, requests, "cpu", rFld),
		memory: c.containerQuantity(limits, requests, "memory", rFld),
	}
	gpuNames := c.in.Policy.Limits.GPUResourceNames
	for _, key := range resourceKeys(limits, requests) {
		switch {
		case strings.HasPrefix(key, corev1.ResourceHugePagesPrefix):
			out.memory.Add(c.containerQuantity(limits, requests, key, rFld))
		case IsGPUResource(key, gpuNames):
			q := c.containerQuantity(limits, requests, key, rFld)
			out.gpu = saturatingAdd(out.gpu, q.Value())
		}
	}
	return out
}

// containerQuantity is a container's limit for name, else its request.
func (c *clusterExpansion) containerQuantity(limits, requests obj, name string, fld *field.Path) resource.Quantity {
	for _, src := range []struct {
		m   obj
		key string
	}{{limits, "limits"}, {requests, "requests"}} {
		v, ok := src.m[name]
		if !ok {
			continue
		}
		s := fmt.Sprint(v)
		q, err := quantity.Parse(s)
		if err != nil {
			c.Errs = append(c.Errs, field.Invalid(fld.Child(src.key).Key(name), s, "must be a quantity such as 2, 500m or 4Gi"))
			return resource.Quantity{}
		}
		if q.Sign() < 0 {
			// Kubernetes' own rule (ValidateResourceQuantityValue); a
			// negative sidecar must not offset a big container in the sum.
			c.Errs = append(c.Errs, field.Invalid(fld.Child(src.key).Key(name), s, "must be greater than or equal to 0"))
			return resource.Quantity{}
		}
		return q
	}
	return resource.Quantity{}
}

// resourceKeys lists the resource names of limits and requests, sorted.
func resourceKeys(limits, requests obj) []string {
	keys := map[string]bool{}
	for _, m := range []obj{limits, requests} {
		for k := range m {
			keys[k] = true
		}
	}
	return sortedKeys(keys)
}

// IsGPUResource reports whether a Kubernetes resource name counts as GPUs
// against limits.maxGPUPerPod: what KubeRay and Ray count as GPUs (a name
// ending in "gpu", NVIDIA MIG profiles nvidia.com/mig-*; KubeRay v1.5.0
// ray-operator/controllers/ray/utils/util.go, IsGPUResourceKey), device
// plugins that share or expose GPUs under other names (nvidia.com/gpu.*,
// gpu.intel.com/*), and the policy's limits.gpuResourceNames (exact names,
// or prefixes ending in "*").
func IsGPUResource(name string, extra []string) bool {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, "gpu"),
		strings.HasPrefix(lower, "nvidia.com/mig-"),
		strings.HasPrefix(lower, "nvidia.com/gpu."),
		strings.HasPrefix(lower, "gpu.intel.com/"):
		return true
	}
	for _, e := range extra {
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(name, p) || e == name {
			return true
		}
	}
	return false
}

// saturatingAdd adds non-negative counts without wrapping past MaxInt64.
func saturatingAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// count converts a non-negative JSON number to int64, saturating.
func count(f float64) int64 {
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// saturatingMul multiplies non-negative counts without wrapping.
func saturatingMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// checkMountPropagation applies Kubernetes' rule that Bidirectional mount
// propagation is for privileged containers only (ValidateVolumeMounts'
// validateMountPropagation), which would otherwise refuse every pod KubeRay
// tries to create from the admitted object.
func (c *clusterExpansion) checkMountPropagation(p *podTemplate) {
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := p.spec[key].([]any)
		for i, ctr := range list {
			m, _ := ctr.(obj)
			sc, _ := m["securityContext"].(obj)
			if sc["privileged"] == true {
				continue
			}
			mounts, _ := m["volumeMounts"].([]any)
			for j, mount := range mounts {
				if mm, _ := mount.(obj); mm["mountPropagation"] == string(corev1.MountPropagationBidirectional) {
					c.Errs = append(c.Errs, field.Forbidden(p.specFld.Child(key).Index(i).Child("volumeMounts").Index(j).Child("mountPropagation"),
						"Bidirectional mount propagation is available only to privileged containers"))
				}
			}
		}
	}
}

// checkPodPlacement refuses what would bypass the policy's placement or
// its GPU count: spec.nodeName skips the scheduler (and so the taints the
// enforced tolerations exist for); dynamic resource claims (DRA) cannot be
// counted against limits.maxGPUPerPod, so they are refused when that limit
// is set.
func (c *clusterExpansion) checkPodPlacement(p *podTemplate) {
	if v, ok := p.spec["nodeName"]; ok && v != nil && v != "" {
		c.Errs = append(c.Errs, field.Forbidden(p.specFld.Child("nodeName"), "Ray pods are placed by the scheduler; nodeName bypasses it and the cluster policy's placement rules; use nodeSelector or affinity"))
	}
	if c.in.Policy.Limits.MaxGPUPerPod == nil {
		return
	}
	if claims, _ := p.spec["resourceClaims"].([]any); len(claims) > 0 {
		c.Errs = append(c.Errs, field.Forbidden(p.specFld.Child("resourceClaims"), "dynamic resource claims cannot be counted against the policy limit limits.maxGPUPerPod; request GPUs as container resources").WithOrigin(OriginPolicy))
	}
}

// checkRayStartParams applies KubeRay's ValidateRayClusterSpec rules the
// operator would otherwise report only at reconcile time.
func (c *clusterExpansion) checkRayStartParams(p *podTemplate, params obj) {
	pFld := p.fld.Child("rayStartParams")
	if _, ok := params["labels"]; ok {
		c.Errs = append(c.Errs, field.Forbidden(pFld.Key("labels"), "KubeRay does not support rayStartParams['labels']; use the group's top-level labels field"))
	}
	groupRes, _ := p.g["resources"].(obj)
	if len(groupRes) > 0 {
		for _, k := range []string{"num-cpus", "num-gpus", "memory", "resources"} {
			if _, ok := params[k]; ok {
				c.Errs = append(c.Errs, field.Forbidden(pFld.Key(k), "set either rayStartParams resource fields or the group's resources field, not both (KubeRay rejects both)"))
			}
		}
	}
}

func groupWarnings(p *podTemplate, t *Template, params obj) []string {
	var out []string
	pFld := p.fld.Child("rayStartParams")
	if t != nil && t.Spec.GPU > 0 {
		if s, ok := params["num-gpus"].(string); ok && s != strconv.Itoa(int(t.Spec.GPU)) {
			out = append(out, fmt.Sprintf("%s: num-gpus %q disagrees with compute template %s (gpu: %d); Ray will advertise %s", pFld.Key("num-gpus"), s, t.Name, t.Spec.GPU, s))
		}
		accel := t.Spec.GPUAccelerator
		if accel != "" && !strings.HasSuffix(accel, "gpu") {
			if _, ok := params["num-gpus"]; !ok {
				out = append(out, fmt.Sprintf("%s: compute template %s puts GPUs under %q, which Ray does not detect as GPUs; set rayStartParams num-gpus", p.rayFld.Child("resources"), t.Name, accel))
			}
		}
	}
	if s, ok := params["num-cpus"].(string); ok {
		res, _ := p.ray["resources"].(obj)
		limits, _ := res["limits"].(obj)
		if lv, ok := limits["cpu"]; ok {
			want, err1 := strconv.ParseFloat(s, 64)
			have, err2 := quantity.Parse(fmt.Sprint(lv))
			if err1 == nil && err2 == nil && want > have.AsApproximateFloat64() {
				out = append(out, fmt.Sprintf("%s: num-cpus %s is more than the Ray container's CPU limit %s; Ray will oversubscribe the pod", pFld.Key("num-cpus"), s, have.String()))
			}
		}
	}
	return out
}
