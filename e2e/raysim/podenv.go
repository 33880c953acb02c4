package raysim

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// secretSource returns the data of the Secret namespace/name, or false when
// there is none. raysim's command reads Secrets from an informer cache
// (watch.go); unit tests pass a map.
type secretSource func(namespace, name string) (map[string][]byte, bool)

// rayContainer is the container Ray runs in: KubeRay's Ray container is the
// first one of a Ray pod.
func rayContainer(p *corev1.Pod) *corev1.Container {
	if len(p.Spec.Containers) == 0 {
		return nil
	}
	return &p.Spec.Containers[0]
}

// envValue returns what the kubelet sets the environment variable name to
// in container c of pod p: the last env entry of that name, else envFrom
// Secrets. ok is false when the variable is unset. An error means the
// kubelet could not start the container (a Secret or key it names is
// missing and not optional).
func envValue(p *corev1.Pod, c *corev1.Container, name string, secrets secretSource) (value string, ok bool, err error) {
	if c == nil {
		return "", false, nil
	}
	for i := len(c.Env) - 1; i >= 0; i-- {
		e := c.Env[i]
		if e.Name != name {
			continue
		}
		if e.ValueFrom == nil {
			return e.Value, true, nil
		}
		return envFrom(p, e.ValueFrom, secrets)
	}
	for i := len(c.EnvFrom) - 1; i >= 0; i-- {
		src := c.EnvFrom[i]
		if src.SecretRef == nil {
			continue
		}
		data, found := lookupSecret(secrets, p.Namespace, src.SecretRef.Name)
		if !found {
			if src.SecretRef.Optional != nil && *src.SecretRef.Optional {
				continue
			}
			return "", false, fmt.Errorf("secret %s/%s (envFrom of container %s) not found", p.Namespace, src.SecretRef.Name, c.Name)
		}
		if !strings.HasPrefix(name, src.Prefix) {
			continue
		}
		if v, has := data[strings.TrimPrefix(name, src.Prefix)]; has {
			return string(v), true, nil
		}
	}
	return "", false, nil
}

var fieldLabel = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']+)'\]$`)

func envFrom(p *corev1.Pod, from *corev1.EnvVarSource, secrets secretSource) (string, bool, error) {
	switch {
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		data, found := lookupSecret(secrets, p.Namespace, ref.Name)
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s/%s not found", p.Namespace, ref.Name)
		}
		v, has := data[ref.Key]
		if !has {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s/%s has no key %q", p.Namespace, ref.Name, ref.Key)
		}
		return string(v), true, nil
	case from.FieldRef != nil:
		switch path := from.FieldRef.FieldPath; path {
		case "metadata.name":
			return p.Name, true, nil
		case "metadata.namespace":
			return p.Namespace, true, nil
		case "metadata.uid":
			return string(p.UID), true, nil
		case "status.podIP":
			return p.Status.PodIP, true, nil
		default:
			if m := fieldLabel.FindStringSubmatch(path); m != nil {
				if m[1] == "labels" {
					return p.Labels[m[2]], true, nil
				}
				return p.Annotations[m[2]], true, nil
			}
			return "", false, fmt.Errorf("field %s is not simulated", path)
		}
	default:
		return "", false, fmt.Errorf("only value, secretKeyRef and fieldRef environment variables are simulated")
	}
}

func lookupSecret(secrets secretSource, namespace, name string) (map[string][]byte, bool) {
	if secrets == nil {
		return nil, false
	}
	return secrets(namespace, name)
}

// env is envValue without the error, for values that only shape what raysim
// reports (a Ray node's labels or type).
func env(p *corev1.Pod, name string, secrets secretSource) string {
	v, _, _ := envValue(p, rayContainer(p), name, secrets)
	return v
}
