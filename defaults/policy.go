package defaults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Autoscaling modes of Policy.Defaults.Autoscaling.Mode.
const (
	// ModeInTree keeps KubeRay's autoscaler sidecar and only fills its defaults.
	ModeInTree = "in-tree"
	// ModeCentral hands clusters to `raypilot scaler`: no sidecar.
	ModeCentral = "central"
)

// Policy is the cluster-wide policy document the chart renders from
// values.yaml. Precedence, lowest to highest: built-in defaults < Defaults <
// compute template < the user's own fields < fields named in Enforce.
type Policy struct {
	Defaults PolicyDefaults `json:"defaults"`
	// Enforce names fields of Defaults whose policy value overrides what the
	// user wrote (see EnforceableFields).
	Enforce []string     `json:"enforce,omitempty"`
	Limits  PolicyLimits `json:"limits"`
}

// PolicyDefaults are the values filled in where a request leaves them unset.
type PolicyDefaults struct {
	// Image is a pattern; {rayVersion} is replaced by spec.rayVersion.
	Image                    string                     `json:"image,omitempty"`
	ImagePullPolicy          corev1.PullPolicy          `json:"imagePullPolicy,omitempty"`
	ImagePullSecrets         []string                   `json:"imagePullSecrets,omitempty"`
	ComputeTemplate          string                     `json:"computeTemplate,omitempty"`
	PodLabels                map[string]string          `json:"podLabels,omitempty"`
	PodAnnotations           map[string]string          `json:"podAnnotations,omitempty"`
	Tolerations              []corev1.Toleration        `json:"tolerations,omitempty"`
	NodeSelector             map[string]string          `json:"nodeSelector,omitempty"`
	PriorityClassName        string                     `json:"priorityClassName,omitempty"`
	PodSecurityContext       *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`
	ContainerSecurityContext *corev1.SecurityContext    `json:"containerSecurityContext,omitempty"`
	HeadRayStartParams       map[string]string          `json:"headRayStartParams,omitempty"`
	WorkerRayStartParams     map[string]string          `json:"workerRayStartParams,omitempty"`
	// ServiceAccountName is the pods' service account. KubeRay gives an
	// in-tree autoscaled head without one a service account named after
	// the cluster, with the autoscaler's RBAC.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// RuntimeClassName is the pods' RuntimeClass, such as a sandboxed
	// runtime (gVisor, Kata) for untrusted code.
	RuntimeClassName string `json:"runtimeClassName,omitempty"`
	// AutomountServiceAccountToken mounts (or not) the service account's
	// token into the pods.
	AutomountServiceAccountToken *bool               `json:"automountServiceAccountToken,omitempty"`
	Autoscaling                  AutoscalingDefaults `json:"autoscaling"`
}

// AutoscalingDefaults configure the hand-off between KubeRay's in-tree
// autoscaler and `raypilot scaler`.
type AutoscalingDefaults struct {
	// Mode is "in-tree" (KubeRay's sidecar) or "central" (raypilot scaler).
	Mode string `json:"mode,omitempty"`
	// UpscalingMode fills autoscalerOptions.upscalingMode when unset.
	UpscalingMode string `json:"upscalingMode,omitempty"`
	// IdleTimeoutSeconds fills autoscalerOptions.idleTimeoutSeconds when unset.
	IdleTimeoutSeconds *int32 `json:"idleTimeoutSeconds,omitempty"`
	// SidecarResources are the in-tree sidecar's requests = limits.
	SidecarResources corev1.ResourceList `json:"sidecarResources,omitempty"`
}

// PolicyLimits bound what a request may ask for. Zero means no limit.
type PolicyLimits struct {
	MaxReplicasPerGroup  int32              `json:"maxReplicasPerGroup,omitempty"`
	MaxWorkersPerCluster int32              `json:"maxWorkersPerCluster,omitempty"`
	MaxCPUPerPod         *resource.Quantity `json:"maxCPUPerPod,omitempty"`
	MaxMemoryPerPod      *resource.Quantity `json:"maxMemoryPerPod,omitempty"`
	MaxGPUPerPod         *int64             `json:"maxGPUPerPod,omitempty"`
	AllowedImagePrefixes []string           `json:"allowedImagePrefixes,omitempty"`
	// GPUResourceNames are resource names counted as GPUs against
	// MaxGPUPerPod besides the built-in ones (see IsGPUResource): exact
	// names, or prefixes ending in "*".
	GPUResourceNames []string `json:"gpuResourceNames,omitempty"`
	// PodSecurity holds every Ray pod (head, workers, the in-tree
	// autoscaler, the RayJob submitter) to a Kubernetes Pod Security
	// Standard: "baseline" or "restricted"; empty: no check.
	PodSecurity string `json:"podSecurity,omitempty"`
	// ReadAPIServerConfigMaps enables KubeRay API server ConfigMap templates
	// (label ray.io/config-type=compute-template). Default true.
	ReadAPIServerConfigMaps *bool `json:"readAPIServerConfigMaps,omitempty"`
}

// BuiltinImage is the image pattern used when no policy names one.
const BuiltinImage = "rayproject/ray:{rayVersion}"

// DefaultPolicy returns the built-in policy: image rayproject/ray:{rayVersion},
// autoscaling mode in-tree, no limits.
func DefaultPolicy() *Policy {
	p := &Policy{}
	p.applyBuiltins()
	return p
}

func (p *Policy) applyBuiltins() {
	if p.Defaults.Image == "" {
		p.Defaults.Image = BuiltinImage
	}
	if p.Defaults.Autoscaling.Mode == "" {
		p.Defaults.Autoscaling.Mode = ModeInTree
	}
}

// Enforces reports whether the policy enforces the named field.
func (p *Policy) Enforces(name string) bool { return slices.Contains(p.Enforce, name) }

// Warnings lists likely mistakes in a valid policy, for the log at load.
func (p *Policy) Warnings() []string {
	var out []string
	for i, pre := range p.Limits.AllowedImagePrefixes {
		if !strings.HasSuffix(pre, "/") && !strings.HasSuffix(pre, ":") && !strings.HasSuffix(pre, "@") {
			out = append(out, fmt.Sprintf("limits.allowedImagePrefixes[%d]: %q does not end with \"/\", so it also admits images such as %q; end it with \"/\" to allow one registry or repository path", i, pre, pre+".evil.example/ray:latest"))
		}
	}
	return out
}

// ReadsConfigMapTemplates reports whether API-server ConfigMap templates count.
func (p *Policy) ReadsConfigMapTemplates() bool {
	return p.Limits.ReadAPIServerConfigMaps == nil || *p.Limits.ReadAPIServerConfigMaps
}

// ParsePolicy reads a policy document (YAML or JSON). Unknown keys, bad
// values and enforced fields without a default are errors naming the key.
func ParsePolicy(data []byte) (*Policy, error) {
	p := &Policy{}
	if len(bytes.TrimSpace(data)) > 0 {
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.applyBuiltins()
	return p, nil
}

func (p *Policy) validate() error {
	var problems []string
	switch p.Defaults.Autoscaling.Mode {
	case "", ModeInTree, ModeCentral:
	default:
		problems = append(problems, fmt.Sprintf("defaults.autoscaling.mode: Unsupported value: %q: supported values: %q, %q", p.Defaults.Autoscaling.Mode, ModeInTree, ModeCentral))
	}
	switch p.Defaults.Autoscaling.UpscalingMode {
	case "", "Default", "Aggressive", "Conservative":
	default:
		problems = append(problems, fmt.Sprintf("defaults.autoscaling.upscalingMode: Unsupported value: %q: supported values: \"Default\", \"Aggressive\", \"Conservative\"", p.Defaults.Autoscaling.UpscalingMode))
	}
	for _, f := range policyFields {
		if f.check != nil && f.set(&p.Defaults) {
			if problem := f.check(&p.Defaults); problem != "" {
				problems = append(problems, fmt.Sprintf("defaults.%s: %s", f.name, problem))
			}
		}
	}
	if t := p.Defaults.Autoscaling.IdleTimeoutSeconds; t != nil && *t < 0 {
		problems = append(problems, fmt.Sprintf("defaults.autoscaling.idleTimeoutSeconds: Invalid value: %d: must be >= 0", *t))
	}
	switch p.Limits.PodSecurity {
	case "", PodSecurityBaseline, PodSecurityRestricted:
	default:
		problems = append(problems, fmt.Sprintf("limits.podSecurity: Unsupported value: %q: supported values: %q, %q", p.Limits.PodSecurity, PodSecurityBaseline, PodSecurityRestricted))
	}
	if p.Limits.MaxReplicasPerGroup < 0 {
		problems = append(problems, fmt.Sprintf("limits.maxReplicasPerGroup: Invalid value: %d: must be >= 0", p.Limits.MaxReplicasPerGroup))
	}
	if p.Limits.MaxWorkersPerCluster < 0 {
		problems = append(problems, fmt.Sprintf("limits.maxWorkersPerCluster: Invalid value: %d: must be >= 0", p.Limits.MaxWorkersPerCluster))
	}
	for i, name := range p.Enforce {
		f := policyFieldNamed(name)
		if f == nil {
			problems = append(problems, fmt.Sprintf("enforce[%d]: Unsupported value: %q: supported values: %s", i, name, strings.Join(EnforceableFields(), ", ")))
			continue
		}
		if !f.set(&p.Defaults) {
			problems = append(problems, fmt.Sprintf("enforce[%d]: Invalid value: %q: defaults.%s must be set to be enforced", i, name, name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
