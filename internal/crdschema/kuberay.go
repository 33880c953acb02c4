package crdschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Names from ray-operator v1.5.0 controllers/ray/utils/constant.go.
const (
	annotationFTEnabled         = "ray.io/ft-enabled"
	annotationExternalStorageNS = "ray.io/external-storage-namespace"
	envRedisAddress             = "RAY_REDIS_ADDRESS"
	envRedisPassword            = "REDIS_PASSWORD"
	envRedisUsername            = "REDIS_USERNAME"
	envEnableAutoscalerV2       = "RAY_enable_autoscaler_v2"
	maxRayClusterNameLength     = 53
	rayContainerIndex           = 0
	rayJobDeletionPolicyGate    = false // the feature gate's default in v1.5.0 pkg/features
)

// ValidateRayClusterMetadata is KubeRay v1.5.0's
// utils.ValidateRayClusterMetadata (controllers/ray/utils/validation.go),
// checked by its webhook and on every reconcile.
func ValidateRayClusterMetadata(name string) error {
	if len(name) > maxRayClusterNameLength {
		return fmt.Errorf("RayCluster name should be no more than %d characters", maxRayClusterNameLength)
	}
	if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
		return fmt.Errorf("RayCluster name should be a valid DNS1035 label: %v", errs)
	}
	return nil
}

// ValidateRayClusterSpec is KubeRay v1.5.0's utils.ValidateRayClusterSpec
// (controllers/ray/utils/validation.go, ray-operator v1.5.0), rule for rule
// and message for message, with the RayJobDeletionPolicy feature gate at its
// default (off). The operator runs it on every reconcile and, on failure,
// emits InvalidRayClusterSpec and never creates the pods. Unlike the
// original it does not index an empty container list of the head (it
// returns the first error, as the original does, before any such index).
func ValidateRayClusterSpec(spec *rayv1.RayClusterSpec, annotations map[string]string) error {
	if len(spec.HeadGroupSpec.Template.Spec.Containers) == 0 {
		return errors.New("headGroupSpec should have at least one container")
	}
	if err := validateRayGroupResources("Head", spec.HeadGroupSpec.RayStartParams, spec.HeadGroupSpec.Resources); err != nil {
		return err
	}
	if err := validateRayGroupLabels("Head", spec.HeadGroupSpec.RayStartParams, spec.HeadGroupSpec.Labels); err != nil {
		return err
	}
	for _, wg := range spec.WorkerGroupSpecs {
		if len(wg.Template.Spec.Containers) == 0 {
			return errors.New("workerGroupSpec should have at least one container")
		}
		if err := validateRayGroupResources(wg.GroupName, wg.RayStartParams, wg.Resources); err != nil {
			return err
		}
		if err := validateRayGroupLabels(wg.GroupName, wg.RayStartParams, wg.Labels); err != nil {
			return err
		}
	}
	if annotations[annotationFTEnabled] != "" && spec.GcsFaultToleranceOptions != nil {
		return fmt.Errorf("%s annotation and GcsFaultToleranceOptions are both set. "+
			"Please use only GcsFaultToleranceOptions to configure GCS fault tolerance", annotationFTEnabled)
	}
	head := spec.HeadGroupSpec.Template.Spec.Containers[rayContainerIndex]
	ftEnabled := strings.ToLower(annotations[annotationFTEnabled]) == "true" || spec.GcsFaultToleranceOptions != nil
	if !ftEnabled && envExists(envRedisAddress, head.Env) {
		return fmt.Errorf("%s is set which implicitly enables GCS fault tolerance, "+
			"but GcsFaultToleranceOptions is not set. Please set GcsFaultToleranceOptions "+
			"to enable GCS fault tolerance", envRedisAddress)
	}
	if spec.GcsFaultToleranceOptions != nil {
		if spec.HeadGroupSpec.RayStartParams["redis-password"] != "" {
			return errors.New("cannot set `redis-password` in rayStartParams when " +
				"GcsFaultToleranceOptions is enabled - use GcsFaultToleranceOptions.RedisPassword instead")
		}
		if envExists(envRedisPassword, head.Env) {
			return errors.New("cannot set `REDIS_PASSWORD` env var in head Pod when " +
				"GcsFaultToleranceOptions is enabled - use GcsFaultToleranceOptions.RedisPassword instead")
		}
		if envExists(envRedisAddress, head.Env) {
			return errors.New("cannot set `RAY_REDIS_ADDRESS` env var in head Pod when " +
				"GcsFaultToleranceOptions is enabled - use GcsFaultToleranceOptions.RedisAddress instead")
		}
		if annotations[annotationExternalStorageNS] != "" {
			return errors.New("cannot set `ray.io/external-storage-namespace` annotation when " +
				"GcsFaultToleranceOptions is enabled - use GcsFaultToleranceOptions.ExternalStorageNamespace instead")
		}
	}
	if spec.HeadGroupSpec.RayStartParams["redis-username"] != "" || envExists(envRedisUsername, head.Env) {
		return errors.New("cannot set redis username in rayStartParams or environment variables" +
			" - use GcsFaultToleranceOptions.RedisUsername instead")
	}
	if !rayJobDeletionPolicyGate {
		for _, wg := range spec.WorkerGroupSpecs {
			if wg.Suspend != nil && *wg.Suspend {
				return fmt.Errorf("worker group %s can be suspended only when the RayJobDeletionPolicy feature gate is enabled", wg.GroupName)
			}
		}
	}
	autoscaling := spec.EnableInTreeAutoscaling != nil && *spec.EnableInTreeAutoscaling
	if !autoscaling {
		if env, ok := envByName(envEnableAutoscalerV2, head.Env); ok && (env.Value == "1" || env.Value == "true") {
			return fmt.Errorf("environment variable %s cannot be set to '%s' when enableInTreeAutoscaling is false. Please set enableInTreeAutoscaling: true to use autoscaler v2", envEnableAutoscalerV2, env.Value)
		}
		return nil
	}
	for _, wg := range spec.WorkerGroupSpecs {
		if wg.Suspend != nil && *wg.Suspend {
			return fmt.Errorf("worker group %s cannot be suspended with Autoscaler enabled", wg.GroupName)
		}
	}
	if spec.AutoscalerOptions != nil && spec.AutoscalerOptions.Version != nil && envExists(envEnableAutoscalerV2, head.Env) {
		return fmt.Errorf("both .spec.autoscalerOptions.version and head Pod env var %s are set, please only use the former", envEnableAutoscalerV2)
	}
	if spec.AutoscalerOptions != nil && spec.AutoscalerOptions.Version != nil && *spec.AutoscalerOptions.Version == rayv1.AutoscalerVersionV2 {
		if rp := spec.HeadGroupSpec.Template.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyNever {
			return errors.New("restartPolicy for head Pod should be Never or unset when using autoscaler V2")
		}
		for _, wg := range spec.WorkerGroupSpecs {
			if rp := wg.Template.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyNever {
				return fmt.Errorf("restartPolicy for worker group %s should be Never or unset when using autoscaler V2", wg.GroupName)
			}
		}
	}
	return nil
}

func validateRayGroupResources(group string, params, resources map[string]string) error {
	fromParams := params["num-cpus"] != "" || params["num-gpus"] != "" || params["memory"] != "" || params["resources"] != ""
	if fromParams && len(resources) > 0 {
		return fmt.Errorf("resource fields should not be set in both rayStartParams and Resources for %s group; please use only one", group)
	}
	return nil
}

func validateRayGroupLabels(group string, params, labels map[string]string) error {
	if _, ok := params["labels"]; ok {
		return fmt.Errorf("rayStartParams['labels'] is not supported for %s group; please use the top-level Labels field instead", group)
	}
	var all []string
	for key, val := range labels {
		for _, e := range validation.IsQualifiedName(key) {
			all = append(all, fmt.Sprintf("invalid label key for %s group: '%s', error: %s", group, key, e))
		}
		for _, e := range validation.IsValidLabelValue(val) {
			all = append(all, fmt.Sprintf("invalid label value for key '%s' in %s group: '%s', error: %s", key, group, val, e))
		}
	}
	if len(all) > 0 {
		return errors.New(strings.Join(all, "; "))
	}
	return nil
}

func envExists(name string, env []corev1.EnvVar) bool { _, ok := envByName(name, env); return ok }

func envByName(name string, env []corev1.EnvVar) (corev1.EnvVar, bool) {
	for _, e := range env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// ValidateKubeRay decodes a RayCluster, RayJob or RayService and runs the
// checks KubeRay v1.5.0 applies to its cluster spec: the RayCluster's
// metadata and spec, or the spec a RayJob (spec.rayClusterSpec) or
// RayService (spec.rayClusterConfig) embeds, with the enclosing object's
// annotations, as ValidateRayJobSpec and ValidateRayServiceSpec pass them.
// A RayJob without an embedded spec (clusterSelector) has nothing to check.
func ValidateKubeRay(data []byte) error {
	var meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	switch meta.Kind {
	case "RayCluster":
		var rc rayv1.RayCluster
		if err := json.Unmarshal(data, &rc); err != nil {
			return fmt.Errorf("decode RayCluster: %w", err)
		}
		if err := ValidateRayClusterMetadata(rc.Name); err != nil {
			return err
		}
		return ValidateRayClusterSpec(&rc.Spec, rc.Annotations)
	case "RayJob":
		var job rayv1.RayJob
		if err := json.Unmarshal(data, &job); err != nil {
			return fmt.Errorf("decode RayJob: %w", err)
		}
		if job.Spec.RayClusterSpec == nil {
			return nil
		}
		return ValidateRayClusterSpec(job.Spec.RayClusterSpec, job.Annotations)
	case "RayService":
		var svc rayv1.RayService
		if err := json.Unmarshal(data, &svc); err != nil {
			return fmt.Errorf("decode RayService: %w", err)
		}
		return ValidateRayClusterSpec(&svc.Spec.RayClusterSpec, svc.Annotations)
	}
	return fmt.Errorf("kind %q is not a KubeRay kind", meta.Kind)
}
