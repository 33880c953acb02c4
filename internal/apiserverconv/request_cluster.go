package apiserverconv

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The messages of KubeRay v1.5.0 proto/cluster.proto that a request sets,
// as Go structs. Proto3 semantics: an unset field is its zero value (the
// API server could not tell them apart either); an enum is its value's
// name, "" when unset.

// clusterReq is proto/cluster.proto Cluster, the body of
// POST /apis/v1/namespaces/{namespace}/clusters.
type clusterReq struct {
	Name, Namespace, User, Version string
	Environment                    string
	ClusterSpec                    *clusterSpecReq
	Annotations                    map[string]string
	Envs                           *envReq
}

func (r *reader) cluster(v any, fld *field.Path) *clusterReq {
	c := &clusterReq{}
	r.message(v, fld, "Cluster", c.fields())
	return c
}

// fields are the message's fields, read into c.
func (c *clusterReq) fields() []fieldSpec {
	return []fieldSpec{
		{proto: "name", json: "name", read: str(&c.Name)},
		{proto: "namespace", json: "namespace", read: str(&c.Namespace)},
		{proto: "user", json: "user", read: str(&c.User)},
		{proto: "version", json: "version", read: str(&c.Version)},
		{proto: "environment", json: "environment", read: enum(&c.Environment, []string{"DEV", "TESTING", "STAGING", "PRODUCTION"})},
		{proto: "cluster_spec", json: "clusterSpec", read: func(r *reader, v any, fld *field.Path) { c.ClusterSpec = r.clusterSpec(v, fld) }},
		{proto: "annotations", json: "annotations", read: stringMap(&c.Annotations)},
		{proto: "envs", json: "envs", read: func(r *reader, v any, fld *field.Path) { c.Envs = r.env(v, fld) }},
		{proto: "created_at", json: "createdAt", outputOnly: true},
		{proto: "deleted_at", json: "deletedAt", outputOnly: true},
		{proto: "cluster_state", json: "clusterState", outputOnly: true},
		{proto: "events", json: "events", outputOnly: true},
		{proto: "service_endpoint", json: "serviceEndpoint", outputOnly: true},
	}
}

// clusterSpecReq is ClusterSpec, also embedded in RayJob and RayService.
type clusterSpecReq struct {
	Head                    *groupReq
	Workers                 []*groupReq
	EnableInTreeAutoscaling bool
	Autoscaler              *autoscalerReq
	HeadServiceAnnotations  map[string]string
}

func (r *reader) clusterSpec(v any, fld *field.Path) *clusterSpecReq {
	s := &clusterSpecReq{}
	r.message(v, fld, "ClusterSpec", []fieldSpec{
		{proto: "head_group_spec", json: "headGroupSpec", read: func(r *reader, v any, fld *field.Path) { s.Head = r.group(v, fld, true) }},
		{proto: "worker_group_spec", json: "workerGroupSpec", read: list(func(r *reader, v any, fld *field.Path) {
			s.Workers = append(s.Workers, r.group(v, fld, false))
		})},
		{proto: "enableInTreeAutoscaling", json: "enableInTreeAutoscaling", read: boolean(&s.EnableInTreeAutoscaling)},
		{proto: "autoscalerOptions", json: "autoscalerOptions", read: func(r *reader, v any, fld *field.Path) { s.Autoscaler = r.autoscaler(v, fld) }},
		{proto: "headServiceAnnotations", json: "headServiceAnnotations", read: stringMap(&s.HeadServiceAnnotations)},
	})
	return s
}

// groupReq is HeadGroupSpec or WorkerGroupSpec; the fields only one of
// them has are zero in the other.
type groupReq struct {
	// head: HeadGroupSpec only.
	ServiceType   string
	EnableIngress bool
	// WorkerGroupSpec only.
	GroupName                          string
	Replicas, MinReplicas, MaxReplicas int32
	// Both.
	ComputeTemplate, Image, ImagePullPolicy string
	RayStartParams                          map[string]string
	Volumes                                 []*volumeReq
	ServiceAccount, ImagePullSecret         string
	Environment                             *envReq
	Annotations, Labels                     map[string]string
	SecurityContext                         *securityContextReq
}

func (r *reader) group(v any, fld *field.Path, head bool) *groupReq {
	g := &groupReq{}
	fields := []fieldSpec{
		{proto: "compute_template", json: "computeTemplate", read: str(&g.ComputeTemplate)},
		{proto: "image", json: "image", read: str(&g.Image)},
		{proto: "ray_start_params", json: "rayStartParams", read: stringMap(&g.RayStartParams)},
		{proto: "volumes", json: "volumes", read: list(func(r *reader, v any, fld *field.Path) { g.Volumes = append(g.Volumes, r.volume(v, fld)) })},
		{proto: "service_account", json: "serviceAccount", read: str(&g.ServiceAccount)},
		{proto: "image_pull_secret", json: "imagePullSecret", read: str(&g.ImagePullSecret)},
		{proto: "environment", json: "environment", read: func(r *reader, v any, fld *field.Path) { g.Environment = r.env(v, fld) }},
		{proto: "annotations", json: "annotations", read: stringMap(&g.Annotations)},
		{proto: "labels", json: "labels", read: stringMap(&g.Labels)},
		{proto: "imagePullPolicy", json: "imagePullPolicy", read: str(&g.ImagePullPolicy)},
		{proto: "security_context", json: "securityContext", read: func(r *reader, v any, fld *field.Path) { g.SecurityContext = r.securityContext(v, fld) }},
	}
	what := "WorkerGroupSpec"
	if head {
		what = "HeadGroupSpec"
		fields = append(fields,
			fieldSpec{proto: "service_type", json: "serviceType", read: str(&g.ServiceType)},
			fieldSpec{proto: "enableIngress", json: "enableIngress", read: boolean(&g.EnableIngress)})
	} else {
		fields = append(fields,
			fieldSpec{proto: "group_name", json: "groupName", read: str(&g.GroupName)},
			fieldSpec{proto: "replicas", json: "replicas", read: int32v(&g.Replicas)},
			fieldSpec{proto: "min_replicas", json: "minReplicas", read: int32v(&g.MinReplicas)},
			fieldSpec{proto: "max_replicas", json: "maxReplicas", read: int32v(&g.MaxReplicas)})
	}
	r.message(v, fld, what, fields)
	return g
}

// Enum values of Volume, in proto order (the first is the default).
var (
	volumeTypes      = []string{"PERSISTENT_VOLUME_CLAIM", "HOST_PATH", "EPHEMERAL", "CONFIGMAP", "SECRET", "EMPTY_DIR"}
	hostPathTypes    = []string{"DIRECTORY", "FILE"}
	propagationModes = []string{"NONE", "HOSTTOCONTAINER", "BIDIRECTIONAL"}
	accessModes      = []string{"RWO", "ROX", "RWX"}
	envSources       = []string{"CONFIGMAP", "SECRET", "RESOURCEFIELD", "FIELD"}
)

// volumeReq is Volume.
type volumeReq struct {
	MountPath, VolumeType, Name, Source string
	ReadOnly                            bool
	HostPathType, MountPropagationMode  string
	StorageClassName, AccessMode        string
	Storage                             string
	Items                               map[string]string
	// given lists the fields written, for the autoscaler's volumes, which
	// use only some of them.
	given []string
}

func (r *reader) volume(v any, fld *field.Path) *volumeReq {
	vol := &volumeReq{}
	fields := []fieldSpec{
		{proto: "mount_path", json: "mountPath", read: str(&vol.MountPath)},
		{proto: "volume_type", json: "volumeType", read: enum(&vol.VolumeType, volumeTypes)},
		{proto: "name", json: "name", read: str(&vol.Name)},
		{proto: "source", json: "source", read: str(&vol.Source)},
		{proto: "read_only", json: "readOnly", read: boolean(&vol.ReadOnly)},
		{proto: "host_path_type", json: "hostPathType", read: enum(&vol.HostPathType, hostPathTypes)},
		{proto: "mount_propagation_mode", json: "mountPropagationMode", read: enum(&vol.MountPropagationMode, propagationModes)},
		{proto: "storageClassName", json: "storageClassName", read: str(&vol.StorageClassName)},
		{proto: "accessMode", json: "accessMode", read: enum(&vol.AccessMode, accessModes)},
		{proto: "storage", json: "storage", read: str(&vol.Storage)},
		{proto: "items", json: "items", read: stringMap(&vol.Items)},
	}
	for i := range fields {
		read, name := fields[i].read, fields[i].json
		fields[i].read = func(r *reader, v any, fld *field.Path) {
			vol.given = append(vol.given, name)
			read(r, v, fld)
		}
	}
	r.message(v, fld, "Volume", fields)
	if vol.VolumeType == "" {
		vol.VolumeType = volumeTypes[0]
	}
	return vol
}

// envReq is EnvironmentVariables.
type envReq struct {
	Values     map[string]string
	ValuesFrom map[string]*envFromReq
}

// envFromReq is EnvValueFrom.
type envFromReq struct {
	Source, Name, Key string
}

func (r *reader) env(v any, fld *field.Path) *envReq {
	e := &envReq{}
	r.message(v, fld, "EnvironmentVariables", []fieldSpec{
		{proto: "values", json: "values", read: stringMap(&e.Values)},
		{proto: "valuesFrom", json: "valuesFrom", read: func(r *reader, v any, fld *field.Path) {
			o, ok := v.(*jsonObject)
			if !ok {
				r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be an object of EnvValueFrom"))
				return
			}
			e.ValuesFrom = map[string]*envFromReq{}
			for _, k := range o.keys {
				from := &envFromReq{}
				if o.vals[k] == nil {
					r.errs = append(r.errs, field.Invalid(fld.Key(k), nil, "must not be null"))
					continue
				}
				r.message(o.vals[k], fld.Key(k), "EnvValueFrom", []fieldSpec{
					{proto: "source", json: "source", read: enum(&from.Source, envSources)},
					{proto: "name", json: "name", read: str(&from.Name)},
					{proto: "key", json: "key", read: str(&from.Key)},
				})
				if from.Source == "" {
					from.Source = envSources[0]
				}
				e.ValuesFrom[k] = from
			}
		}},
	})
	return e
}

// autoscalerReq is AutoscalerOptions.
type autoscalerReq struct {
	IdleTimeoutSeconds                    int32
	UpscalingMode, Image, ImagePullPolicy string
	CPU, Memory                           string
	Envs                                  *envReq
	Volumes                               []*volumeReq
}

func (r *reader) autoscaler(v any, fld *field.Path) *autoscalerReq {
	a := &autoscalerReq{}
	r.message(v, fld, "AutoscalerOptions", []fieldSpec{
		{proto: "idleTimeoutSeconds", json: "idleTimeoutSeconds", read: int32v(&a.IdleTimeoutSeconds)},
		{proto: "upscalingMode", json: "upscalingMode", read: str(&a.UpscalingMode)},
		{proto: "image", json: "image", read: str(&a.Image)},
		{proto: "imagePullPolicy", json: "imagePullPolicy", read: str(&a.ImagePullPolicy)},
		{proto: "cpu", json: "cpu", read: str(&a.CPU)},
		{proto: "memory", json: "memory", read: str(&a.Memory)},
		{proto: "envs", json: "envs", read: func(r *reader, v any, fld *field.Path) { a.Envs = r.env(v, fld) }},
		{proto: "volumes", json: "volumes", read: list(func(r *reader, v any, fld *field.Path) { a.Volumes = append(a.Volumes, r.volume(v, fld)) })},
	})
	return a
}

// securityContextReq is SecurityContext.
type securityContextReq struct {
	Add, Drop  []string
	Privileged *bool
}

func (r *reader) securityContext(v any, fld *field.Path) *securityContextReq {
	s := &securityContextReq{}
	r.message(v, fld, "SecurityContext", []fieldSpec{
		{proto: "capabilities", json: "capabilities", read: func(r *reader, v any, fld *field.Path) {
			r.message(v, fld, "Capabilities", []fieldSpec{
				{proto: "add", json: "add", read: stringList(&s.Add)},
				{proto: "drop", json: "drop", read: stringList(&s.Drop)},
			})
		}},
		{proto: "privileged", json: "privileged", read: optBool(&s.Privileged)},
	})
	return s
}
