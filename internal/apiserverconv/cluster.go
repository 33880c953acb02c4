package apiserverconv

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

// cluster converts a Cluster request into a compact RayCluster (KubeRay
// v1.5.0 apiserver/pkg/util/cluster.go, NewRayCluster).
func (c *converter) cluster(r *clusterReq) Object {
	spec, annotations := c.clusterSpec(r.ClusterSpec, field.NewPath("clusterSpec"), r.Version, r.Envs)
	meta := c.metadata(r.Name, r.Namespace, ownerLabels(r.User, r.Environment),
		c.mergeAnnotations(r.Annotations, field.NewPath("annotations"), annotations, nil))
	return Object{value: rayObject("RayCluster", meta, spec)}
}

func rayObject(kind string, meta omap, spec any) omap {
	return omap{}.with("apiVersion", "ray.io/v1").with("kind", kind).with("metadata", meta).with("spec", spec)
}

// maxObjectBytes bounds what a Cluster's envs, copied into every group's
// Ray container, may add up to: the API server's bound on a request body
// (k8s.io/apiserver/pkg/server, MaxRequestBodyBytes, 3 MiB), which no
// object larger than it can pass.
const maxObjectBytes = 3 << 20

// envBytes is about what e takes as env entries in JSON.
func envBytes(e *envReq) int {
	n := 0
	for k, v := range e.Values {
		n += len(k) + len(v) + len(`{"name":"","value":""},`)
	}
	for k, v := range e.ValuesFrom {
		n += len(k) + len(v.Name) + len(v.Key) + len(`{"name":"","valueFrom":{"configMapKeyRef":{"name":"","key":""}}},`)
	}
	return n
}

// group is a head or worker group of a request with its field path.
type group struct {
	*groupReq
	fld    *field.Path
	isHead bool
	// templateRef and volumes are the group's own compact annotations,
	// empty when the cluster's apply.
	templateRef, volumes string
}

// clusterSpec converts a ClusterSpec (buildRayClusterSpec) into a
// RayClusterSpec and the annotations of the object holding it: the
// compute template and the compact volumes every group shares. version is
// the request's Ray version, envs a Cluster's environment for every Ray
// container (nil for RayJob and RayService, which have none).
func (c *converter) clusterSpec(s *clusterSpecReq, fld *field.Path, version string, envs *envReq) (omap, map[string]string) {
	if s == nil {
		c.required(fld, "the cluster: headGroupSpec, and workerGroupSpec to have workers")
		return nil, nil
	}
	if s.Head == nil {
		c.required(fld.Child("headGroupSpec"), "every cluster has a head group")
		return nil, nil
	}
	groups := []*group{{groupReq: s.Head, fld: fld.Child("headGroupSpec"), isHead: true}}
	for i, w := range s.Workers {
		groups = append(groups, &group{groupReq: w, fld: fld.Child("workerGroupSpec").Index(i)})
	}
	c.checkGroups(groups)
	if envs != nil && envBytes(envs)*len(groups) > maxObjectBytes {
		c.errs = append(c.errs, &field.Error{Type: field.ErrorTypeTooLong, Field: "envs", BadValue: "", Detail: fmt.Sprintf(
			"copied into the Ray container of each of the %d groups, these variables make an object larger than the API server accepts (%d bytes): keep the large values in a ConfigMap or Secret (valuesFrom), or set them in the groups that need them",
			len(groups), maxObjectBytes)})
		return nil, nil
	}
	annotations := map[string]string{}
	if ref := c.templateRefs(groups); ref != "" {
		annotations[defaults.AnnotationComputeTemplate] = ref
	}
	if vols := c.volumes(groups); vols != "" {
		annotations[defaults.AnnotationVolumes] = vols
	}

	spec := omap{}
	if version != "" {
		spec = spec.with("rayVersion", version)
	}
	if s.EnableInTreeAutoscaling {
		spec = spec.with("enableInTreeAutoscaling", true)
		if opts := c.autoscalerOptions(s.Autoscaler, fld.Child("autoscalerOptions")); len(opts) > 0 {
			spec = spec.with("autoscalerOptions", opts)
		}
	} else if s.Autoscaler != nil {
		// buildRayClusterSpec reads autoscalerOptions only for autoscaled clusters.
		c.warn(fld.Child("autoscalerOptions"), "left out: enableInTreeAutoscaling is not true, and the API server used these options only for autoscaled clusters")
	}
	if len(s.HeadServiceAnnotations) > 0 {
		spec = spec.with("headServiceAnnotations", sortedMap(s.HeadServiceAnnotations))
	}
	spec = spec.with("headGroupSpec", c.headGroup(groups[0], version, envs))
	if len(groups) > 1 {
		workers := make([]any, 0, len(groups)-1)
		for _, g := range groups[1:] {
			workers = append(workers, c.workerGroup(g, version, envs))
		}
		spec = spec.with("workerGroupSpecs", workers)
	}
	return spec, annotations
}

// checkGroups makes the API server's checks of the groups
// (apiserver/pkg/server/validations.go, ValidateClusterSpec). It does not
// require the head's rayStartParams, which the API server did but KubeRay
// v1.5.0 does not.
func (c *converter) checkGroups(groups []*group) {
	for _, g := range groups {
		if !g.isHead && g.GroupName == "" {
			c.required(g.fld.Child("groupName"), "the worker group's name")
		}
		if g.ComputeTemplate == "" {
			c.required(g.fld.Child("computeTemplate"), "the name of the compute template that sizes the group's pods")
		}
		switch g.ImagePullPolicy {
		case "", "Always", "IfNotPresent":
		default:
			c.errs = append(c.errs, field.NotSupported(g.fld.Child("imagePullPolicy"), g.ImagePullPolicy, []string{"Always", "IfNotPresent"}))
		}
		if g.isHead {
			continue
		}
		if g.MaxReplicas == 0 {
			c.required(g.fld.Child("maxReplicas"), "greater than 0 (the API server refused 0)")
		}
		if g.MinReplicas > g.MaxReplicas {
			c.errs = append(c.errs, field.Invalid(g.fld.Child("minReplicas"), g.MinReplicas, "must be <= maxReplicas"))
		}
	}
}

// templateRefs returns the compute template every group names, for the
// cluster's annotation; when the groups name different templates, each
// group gets its own annotation and the cluster none.
func (c *converter) templateRefs(groups []*group) string {
	ref := groups[0].ComputeTemplate
	for _, g := range groups[1:] {
		if g.ComputeTemplate != ref {
			for _, g := range groups {
				g.templateRef = g.ComputeTemplate
			}
			return ""
		}
	}
	return ref
}

// headGroup converts the head group (buildHeadPodTemplate).
func (c *converter) headGroup(g *group, version string, envs *envReq) omap {
	out := omap{}
	if g.ServiceType != "" {
		out = out.with("serviceType", g.ServiceType)
	}
	if g.EnableIngress {
		out = out.with("enableIngress", true)
	}
	if len(g.RayStartParams) > 0 {
		out = out.with("rayStartParams", sortedMap(g.RayStartParams))
	}
	return out.with("template", c.podTemplate(g, version, envs))
}

// workerGroup converts a worker group (buildRayClusterSpec,
// buildWorkerPodTemplate). Like the API server, minReplicas and
// maxReplicas left at 0 take replicas.
func (c *converter) workerGroup(g *group, version string, envs *envReq) omap {
	minReplicas, maxReplicas := g.Replicas, g.Replicas
	if g.MinReplicas != 0 {
		minReplicas = g.MinReplicas
	}
	if g.MaxReplicas != 0 {
		maxReplicas = g.MaxReplicas
	}
	out := omap{}.with("groupName", g.GroupName).with("replicas", g.Replicas).
		with("minReplicas", minReplicas).with("maxReplicas", maxReplicas)
	if len(g.RayStartParams) > 0 {
		out = out.with("rayStartParams", sortedMap(g.RayStartParams))
	}
	return out.with("template", c.podTemplate(g, version, envs))
}
