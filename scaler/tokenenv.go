package scaler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// envKubeRayStartCmd is the variable KubeRay sets on the Ray container only,
// holding the `ray start` command it generated (KUBERAY_GEN_RAY_START_CMD,
// setContainerEnvVars in KubeRay's ray-operator/controllers/ray/common/
// pod.go, v1.5.1 and later).
const envKubeRayStartCmd = "KUBERAY_GEN_RAY_START_CMD"

// kubeRayHeadContainer is the name KubeRay gives the head's Ray container
// in its samples and defaults (RayHeadContainer in KubeRay's
// ray-operator/controllers/ray/common/pod.go).
const kubeRayHeadContainer = "ray-head"

// rayContainer returns the head pod's Ray container: the one carrying
// KubeRay's generated start command, else the one named ray-head, else the
// first container, where KubeRay requires the Ray container to be
// (utils.RayContainerIndex = 0 in KubeRay's
// ray-operator/controllers/ray/utils/constant.go). Looking before taking
// the first keeps the scaler right when an injected sidecar lands in front.
// nil for a pod without containers.
func rayContainer(pod *corev1.Pod) *corev1.Container {
	cs := pod.Spec.Containers
	for i := range cs {
		for _, e := range cs[i].Env {
			if e.Name == envKubeRayStartCmd {
				return &cs[i]
			}
		}
	}
	for i := range cs {
		if cs[i].Name == kubeRayHeadContainer {
			return &cs[i]
		}
	}
	if len(cs) == 0 {
		return nil
	}
	return &cs[0]
}

// rayEnv reads the Ray container's environment the way the kubelet builds
// it: the last env entry of a name wins; $(NAME) in a value refers to an
// earlier variable and $$ is a literal $; envFrom gives only what env does
// not set, its later sources winning. Values from Secrets are read through
// secrets (never cached, never logged).
type rayEnv struct {
	pod       *corev1.Pod
	container *corev1.Container
	secrets   client.Reader
}

// where names the container for errors: "pod ns/name, container c".
func (e *rayEnv) where() string {
	return fmt.Sprintf("head pod %s/%s, container %s", e.pod.Namespace, e.pod.Name, e.container.Name)
}

// last returns the index of the env entry that defines name, -1 if none.
func (e *rayEnv) last(name string) int {
	env := e.container.Env
	for i := len(env) - 1; i >= 0; i-- {
		if env[i].Name == name {
			return i
		}
	}
	return -1
}

// literal returns a variable that must be a plain value (a mode, a path),
// not one taken from a Secret or elsewhere. envFrom is not consulted: its
// ConfigMaps are not readable with the scaler's permissions, and Ray's
// variables are set with env, by KubeRay and in Ray's docs alike.
func (e *rayEnv) literal(name string) (value string, set bool, err error) {
	i := e.last(name)
	if i < 0 {
		return "", false, nil
	}
	v := e.container.Env[i]
	if v.ValueFrom != nil {
		return "", false, fmt.Errorf("%s: %s comes from %s, which raypilot cannot read; set it as a plain value",
			e.where(), name, valueFromKind(v.ValueFrom))
	}
	return e.expand(v.Value, i), true, nil
}

// expand replaces $(NAME) by the plain value of an env entry before index
// before, as the kubelet does; a reference it cannot resolve stays as is.
func (e *rayEnv) expand(s string, before int) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '$' || i+1 == len(s):
			b.WriteByte(s[i])
		case s[i+1] == '$':
			b.WriteByte('$')
			i++
		case s[i+1] == '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if value, ok := e.plainBefore(name, before); ok {
				b.WriteString(value)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// plainBefore returns the plain value name has before env index before.
func (e *rayEnv) plainBefore(name string, before int) (string, bool) {
	env := e.container.Env
	for i := before - 1; i >= 0; i-- {
		if env[i].Name != name {
			continue
		}
		if env[i].ValueFrom != nil {
			return "", false
		}
		return e.expand(env[i].Value, i), true
	}
	return "", false
}

// secretValue returns a variable that may hold a secret: a plain value, a
// Secret key (secretKeyRef), or, with fromEnvFrom, a key of a Secret the
// container takes whole (envFrom secretRef). set is false when the
// variable is absent, which includes an optional reference to a missing
// Secret or key (the kubelet then leaves it out). from says where the value
// came from, without the value.
func (e *rayEnv) secretValue(ctx context.Context, name string, fromEnvFrom bool) (value string, set bool, from string, err error) {
	if i := e.last(name); i >= 0 {
		v := e.container.Env[i]
		switch {
		case v.ValueFrom == nil:
			return e.expand(v.Value, i), true, name + " (plain value)", nil
		case v.ValueFrom.SecretKeyRef != nil:
			ref := v.ValueFrom.SecretKeyRef
			optional := ref.Optional != nil && *ref.Optional
			data, found, err := e.readSecret(ctx, ref.Name, optional)
			if err != nil || !found {
				return "", false, "", e.wrap(name, err)
			}
			raw, ok := data[ref.Key]
			if !ok {
				if optional {
					return "", false, "", nil
				}
				return "", false, "", fmt.Errorf("%s: %s refers to key %q of Secret %s/%s, which has no such key",
					e.where(), name, ref.Key, e.pod.Namespace, ref.Name)
			}
			return string(raw), true, fmt.Sprintf("%s (Secret %s/%s, key %s)", name, e.pod.Namespace, ref.Name, ref.Key), nil
		default:
			return "", false, "", fmt.Errorf("%s: %s comes from %s; raypilot reads Ray's token only from a Secret: "+
				"take it from a Secret key (valueFrom.secretKeyRef, as KubeRay's spec.authOptions does)",
				e.where(), name, valueFromKind(v.ValueFrom))
		}
	}
	if !fromEnvFrom {
		return "", false, "", nil
	}
	// envFrom: later sources override earlier ones.
	srcs := e.container.EnvFrom
	for i := len(srcs) - 1; i >= 0; i-- {
		ref := srcs[i].SecretRef
		if ref == nil || !strings.HasPrefix(name, srcs[i].Prefix) {
			continue
		}
		optional := ref.Optional != nil && *ref.Optional
		data, found, err := e.readSecret(ctx, ref.Name, optional)
		if err != nil {
			return "", false, "", e.wrap(name, err)
		}
		if !found {
			continue
		}
		key := strings.TrimPrefix(name, srcs[i].Prefix)
		if raw, ok := data[key]; ok {
			return string(raw), true, fmt.Sprintf("%s (envFrom Secret %s/%s, key %s)", name, e.pod.Namespace, ref.Name, key), nil
		}
	}
	return "", false, "", nil
}

// readSecret reads a Secret of the pod's namespace. A missing optional
// Secret is found=false without error.
func (e *rayEnv) readSecret(ctx context.Context, name string, optional bool) (data map[string][]byte, found bool, err error) {
	if e.secrets == nil {
		return nil, false, fmt.Errorf("read Secret %s/%s: the scaler has no Secret reader", e.pod.Namespace, name)
	}
	var s corev1.Secret
	err = e.secrets.Get(ctx, types.NamespacedName{Namespace: e.pod.Namespace, Name: name}, &s)
	switch {
	case err == nil:
		return s.Data, true, nil
	case apierrors.IsNotFound(err) && optional:
		return nil, false, nil
	case apierrors.IsNotFound(err):
		return nil, false, fmt.Errorf("read Secret %s/%s: %w; create it (KubeRay creates it for spec.authOptions) or fix the reference", e.pod.Namespace, name, err)
	case apierrors.IsForbidden(err):
		return nil, false, fmt.Errorf("read Secret %s/%s: %w; raypilot needs get on Secrets in namespace %s "+
			"(Helm chart value scaler.rayAuthTokenSecrets=true)", e.pod.Namespace, name, err, e.pod.Namespace)
	default:
		return nil, false, fmt.Errorf("read Secret %s/%s: %w", e.pod.Namespace, name, err)
	}
}

// wrap puts the container and the variable in front of err (nil stays nil).
func (e *rayEnv) wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", e.where(), name, err)
}

// valueFromKind names the source of a valueFrom for errors.
func valueFromKind(v *corev1.EnvVarSource) string {
	switch {
	case v.SecretKeyRef != nil:
		return "Secret " + v.SecretKeyRef.Name
	case v.ConfigMapKeyRef != nil:
		return "ConfigMap " + v.ConfigMapKeyRef.Name
	case v.FieldRef != nil:
		return "the pod field " + v.FieldRef.FieldPath
	case v.ResourceFieldRef != nil:
		return "the container resource " + v.ResourceFieldRef.Resource
	default:
		return "a valueFrom source"
	}
}
