package apiserverconv

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// computeTemplateReq is KubeRay v1.5.0 proto/config.proto ComputeTemplate,
// the body of POST /apis/v1/namespaces/{namespace}/compute_templates.
type computeTemplateReq struct {
	Name, Namespace   string
	CPU, Memory, GPU  uint32
	GPUAccelerator    string
	Tolerations       []tolerationReq
	ExtendedResources map[string]uint32
	MemoryUnit        string
}

// tolerationReq is PodToleration.
// The tags are the API server's, which stored tolerations as this JSON.
type tolerationReq struct {
	Key      string `json:"key,omitempty"`
	Operator string `json:"operator,omitempty"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect,omitempty"`
}

func (r *reader) computeTemplate(v any, fld *field.Path) *computeTemplateReq {
	t := &computeTemplateReq{}
	r.message(v, fld, "ComputeTemplate", t.fields())
	return t
}

// fields are the message's fields, read into t.
func (t *computeTemplateReq) fields() []fieldSpec {
	return []fieldSpec{
		{proto: "name", json: "name", read: str(&t.Name)},
		{proto: "namespace", json: "namespace", read: str(&t.Namespace)},
		{proto: "cpu", json: "cpu", read: uint32v(&t.CPU)},
		{proto: "memory", json: "memory", read: uint32v(&t.Memory)},
		{proto: "gpu", json: "gpu", read: uint32v(&t.GPU)},
		{proto: "gpu_accelerator", json: "gpuAccelerator", read: str(&t.GPUAccelerator)},
		{proto: "tolerations", json: "tolerations", read: list(func(r *reader, v any, fld *field.Path) {
			var tol tolerationReq
			r.message(v, fld, "PodToleration", []fieldSpec{
				{proto: "key", json: "key", read: str(&tol.Key)},
				{proto: "operator", json: "operator", read: str(&tol.Operator)},
				{proto: "value", json: "value", read: str(&tol.Value)},
				{proto: "effect", json: "effect", read: str(&tol.Effect)},
			})
			t.Tolerations = append(t.Tolerations, tol)
		})},
		{proto: "extended_resources", json: "extendedResources", read: uint32Map(&t.ExtendedResources)},
		{proto: "memory_unit", json: "memoryUnit", read: str(&t.MemoryUnit)},
	}
}

// rayJobReq is KubeRay v1.5.0 proto/job.proto RayJob, the body of
// POST /apis/v1/namespaces/{namespace}/jobs.
type rayJobReq struct {
	Name, Namespace, User, Version string
	Entrypoint                     string
	Metadata                       map[string]string
	RuntimeEnv, JobID              string
	ShutdownAfterJobFinishes       bool
	ClusterSelector                map[string]string
	ClusterSpec                    *clusterSpecReq
	TTLSecondsAfterFinished        int32
	Submitter                      *submitterReq
	EntrypointNumCpus              float32
	EntrypointNumGpus              float32
	EntrypointResources            string
	ActiveDeadlineSeconds          int32
}

// submitterReq is RayJobSubmitter.
type submitterReq struct {
	Image, CPU, Memory string
}

func (r *reader) rayJob(v any, fld *field.Path) *rayJobReq {
	j := &rayJobReq{}
	r.message(v, fld, "RayJob", j.fields())
	return j
}

// fields are the message's fields, read into j.
func (j *rayJobReq) fields() []fieldSpec {
	return []fieldSpec{
		{proto: "name", json: "name", read: str(&j.Name)},
		{proto: "namespace", json: "namespace", read: str(&j.Namespace)},
		{proto: "user", json: "user", read: str(&j.User)},
		{proto: "version", json: "version", read: str(&j.Version)},
		{proto: "entrypoint", json: "entrypoint", read: str(&j.Entrypoint)},
		{proto: "metadata", json: "metadata", read: stringMap(&j.Metadata)},
		{proto: "runtime_env", json: "runtimeEnv", read: str(&j.RuntimeEnv)},
		{proto: "job_id", json: "jobId", read: str(&j.JobID)},
		{proto: "shutdown_after_job_finishes", json: "shutdownAfterJobFinishes", read: boolean(&j.ShutdownAfterJobFinishes)},
		{proto: "cluster_selector", json: "clusterSelector", read: stringMap(&j.ClusterSelector)},
		{proto: "cluster_spec", json: "clusterSpec", read: func(r *reader, v any, fld *field.Path) { j.ClusterSpec = r.clusterSpec(v, fld) }},
		{proto: "ttl_seconds_after_finished", json: "ttlSecondsAfterFinished", read: int32v(&j.TTLSecondsAfterFinished)},
		{proto: "jobSubmitter", json: "jobSubmitter", read: func(r *reader, v any, fld *field.Path) {
			j.Submitter = &submitterReq{}
			r.message(v, fld, "RayJobSubmitter", []fieldSpec{
				{proto: "image", json: "image", read: str(&j.Submitter.Image)},
				{proto: "cpu", json: "cpu", read: str(&j.Submitter.CPU)},
				{proto: "memory", json: "memory", read: str(&j.Submitter.Memory)},
			})
		}},
		{proto: "entrypointNumCpus", json: "entrypointNumCpus", read: float32v(&j.EntrypointNumCpus)},
		{proto: "entrypointNumGpus", json: "entrypointNumGpus", read: float32v(&j.EntrypointNumGpus)},
		{proto: "entrypointResources", json: "entrypointResources", read: str(&j.EntrypointResources)},
		{proto: "activeDeadlineSeconds", json: "activeDeadlineSeconds", read: int32v(&j.ActiveDeadlineSeconds)},
		{proto: "created_at", json: "createdAt", outputOnly: true},
		{proto: "delete_at", json: "deleteAt", outputOnly: true},
		{proto: "job_status", json: "jobStatus", outputOnly: true},
		{proto: "job_deployment_status", json: "jobDeploymentStatus", outputOnly: true},
		{proto: "message", json: "message", outputOnly: true},
		{proto: "start_time", json: "startTime", outputOnly: true},
		{proto: "end_time", json: "endTime", outputOnly: true},
		{proto: "ray_cluster_name", json: "rayClusterName", outputOnly: true},
	}
}

// rayServiceReq is KubeRay v1.5.0 proto/serve.proto RayService, the body
// of POST /apis/v1/namespaces/{namespace}/services.
type rayServiceReq struct {
	Name, Namespace, User, Version     string
	ServeConfigV2                      string
	ServiceUnhealthySecondThreshold    int32
	DeploymentUnhealthySecondThreshold int32
	ClusterSpec                        *clusterSpecReq
}

func (r *reader) rayService(v any, fld *field.Path) *rayServiceReq {
	s := &rayServiceReq{}
	r.message(v, fld, "RayService", s.fields())
	return s
}

// fields are the message's fields, read into s.
func (s *rayServiceReq) fields() []fieldSpec {
	return []fieldSpec{
		{proto: "name", json: "name", read: str(&s.Name)},
		{proto: "namespace", json: "namespace", read: str(&s.Namespace)},
		{proto: "user", json: "user", read: str(&s.User)},
		{proto: "version", json: "version", read: str(&s.Version)},
		{proto: "serve_config_V2", json: "serveConfigV2", read: str(&s.ServeConfigV2)},
		{proto: "service_unhealthy_second_threshold", json: "serviceUnhealthySecondThreshold", read: int32v(&s.ServiceUnhealthySecondThreshold)},
		{proto: "deployment_unhealthy_second_threshold", json: "deploymentUnhealthySecondThreshold", read: int32v(&s.DeploymentUnhealthySecondThreshold)},
		{proto: "cluster_spec", json: "clusterSpec", read: func(r *reader, v any, fld *field.Path) { s.ClusterSpec = r.clusterSpec(v, fld) }},
		{proto: "ray_service_status", json: "rayServiceStatus", outputOnly: true},
		{proto: "created_at", json: "createdAt", outputOnly: true},
		{proto: "delete_at", json: "deleteAt", outputOnly: true},
	}
}
