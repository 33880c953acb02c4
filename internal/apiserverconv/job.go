package apiserverconv

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rayJob converts a RayJob request into a compact RayJob (KubeRay v1.5.0
// apiserver/pkg/util/job.go, NewRayJob; checks of
// apiserver/pkg/server/job_server.go, ValidateCreateJobRequest).
func (c *converter) rayJob(j *rayJobReq) Object {
	spec := omap{}
	if j.Entrypoint != "" {
		spec = spec.with("entrypoint", j.Entrypoint)
	}
	if j.RuntimeEnv != "" {
		spec = spec.with("runtimeEnvYAML", j.RuntimeEnv)
	}
	if j.JobID != "" {
		spec = spec.with("jobId", j.JobID)
	}
	if len(j.Metadata) > 0 {
		spec = spec.with("metadata", sortedMap(j.Metadata))
	}
	if j.ShutdownAfterJobFinishes {
		spec = spec.with("shutdownAfterJobFinishes", true)
	}
	c.nonNegative(&spec, "ttlSecondsAfterFinished", j.TTLSecondsAfterFinished)
	c.nonNegative(&spec, "activeDeadlineSeconds", j.ActiveDeadlineSeconds)
	c.nonNegativeFloat(&spec, "entrypointNumCpus", j.EntrypointNumCpus)
	if j.EntrypointNumGpus > 0 {
		// NewRayJob sets it on a copy of the spec (rayJob.Spec.DeepCopy()),
		// so the API server never passed it on.
		c.warn(field.NewPath("entrypointNumGpus"), "now set on the RayJob: the KubeRay API server v1.5.0 dropped it, so the entrypoint reserved no GPU there")
	}
	c.nonNegativeFloat(&spec, "entrypointNumGpus", j.EntrypointNumGpus)
	if j.EntrypointResources != "" {
		spec = spec.with("entrypointResources", j.EntrypointResources)
	}
	if len(j.ClusterSelector) > 0 {
		spec = spec.with("clusterSelector", sortedMap(j.ClusterSelector))
	}
	if j.Submitter != nil {
		spec = spec.with("submitterPodTemplate", c.submitter(j.Submitter, field.NewPath("jobSubmitter")))
	}

	var annotations map[string]string
	switch {
	case j.ClusterSpec != nil:
		if len(j.ClusterSelector) > 0 {
			c.warn(field.NewPath("clusterSpec"), "KubeRay runs the job on the cluster clusterSelector names and creates no cluster from clusterSpec, as with the API server")
		}
		var cluster omap
		cluster, annotations = c.clusterSpec(j.ClusterSpec, field.NewPath("clusterSpec"), j.Version, nil)
		spec = spec.with("rayClusterSpec", cluster)
	case len(j.ClusterSelector) == 0:
		c.required(field.NewPath("clusterSpec"), "the cluster to create for the job, or clusterSelector naming a running one")
	case j.Version != "":
		c.warn(field.NewPath("version"), "not used: the job runs on the cluster clusterSelector names")
	}
	meta := c.metadata(j.Name, j.Namespace, ownerLabels(j.User, ""),
		c.mergeAnnotations(j.Metadata, field.NewPath("metadata"), annotations, nil))
	return Object{value: rayObject("RayJob", meta, spec)}
}

// submitter is the submitter pod the API server built from jobSubmitter:
// one container with requests = limits, 1 CPU and 1Gi unless given, and
// restartPolicy Never.
func (c *converter) submitter(s *submitterReq, fld *field.Path) omap {
	if s.Image == "" {
		c.required(fld.Child("image"), "the submitter's image, with the cluster's Ray and Python versions")
	}
	res := omap{}.with("cpu", c.quantityOr(s.CPU, "1", fld.Child("cpu"))).
		with("memory", c.quantityOr(s.Memory, "1Gi", fld.Child("memory")))
	ctr := omap{}.with("name", "ray-job-submitter").with("image", s.Image).
		with("resources", omap{}.with("limits", res).with("requests", res))
	return omap{}.with("spec", omap{}.with("containers", []any{ctr}).with("restartPolicy", "Never"))
}

// nonNegative sets key when v > 0 (the API server's unset is 0) and
// refuses a negative v, which KubeRay would refuse or the API server
// dropped.
func (c *converter) nonNegative(spec *omap, key string, v int32) {
	switch {
	case v > 0:
		*spec = spec.with(key, v)
	case v < 0:
		c.errs = append(c.errs, field.Invalid(field.NewPath(key), v, "must be >= 0"))
	}
}

func (c *converter) nonNegativeFloat(spec *omap, key string, v float32) {
	switch {
	case v > 0:
		*spec = spec.with(key, v)
	case v < 0:
		c.errs = append(c.errs, field.Invalid(field.NewPath(key), v, "must be >= 0"))
	}
}
