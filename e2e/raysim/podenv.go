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

// rayContainer is the container Ray runs in: the one KubeRay gave its
// generated `ray start` command (KUBERAY_GEN_RAY_START_CMD), else the first
// one, where KubeRay requires the Ray container to be (RayContainerIndex).
func rayContainer(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		for _, e := range p.Spec.Containers[i].Env {
			if e.Name == "KUBERAY_GEN_RAY_START_CMD" {
				return &p.Spec.Containers[i]
			}
		}
	}
	if len(p.Spec.Containers) == 0 {
		return nil
	}
	return &p.Spec.Containers[0]
}

// envValue returns what the kubelet sets the environment variable name to
// in container c of pod p: the last env entry of that name (a value with
// $(VAR) references to the variables before it expanded, $$ an escaped $),
// else envFrom Secrets, the later ones winning. ok is false when the
// variable is unset. An error means the kubelet could not start the
// container (a Secret or key it names is missing and not optional).
func envValue(p *corev1.Pod, c *corev1.Container, name string, secrets secretSource) (value string, ok bool, err error) {
	if c == nil {
		return "", false, nil
	}
	return envBefore(p, c, name, len(c.Env), secrets, 0)
}

// maxEnvDepth bounds the chain of $(VAR) references followed.
const maxEnvDepth = 16

// envBefore resolves name from the env entries before index end, then envFrom.
func envBefore(p *corev1.Pod, c *corev1.Container, name string, end int, secrets secretSource, depth int) (string, bool, error) {
	for i := end - 1; i >= 0; i-- {
		e := c.Env[i]
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil {
			return envFrom(p, e.ValueFrom, secrets)
		}
		v, err := expandEnv(e.Value, func(ref string) (string, bool, error) {
			if depth >= maxEnvDepth {
				return "", false, nil
			}
			return envBefore(p, c, ref, i, secrets, depth+1)
		})
		return v, true, err
	}
	return envFromSecrets(p, c, name, secrets)
}

// expandEnv expands $(VAR) as the kubelet does: an unresolved reference
// stays as written, $$ is a literal $.
func expandEnv(v string, lookup func(string) (string, bool, error)) (string, error) {
	if !strings.Contains(v, "$") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case v[i+1] == '$':
			b.WriteByte('$')
			i++
		case v[i+1] == '(':
			end := strings.IndexByte(v[i+2:], ')')
			if end < 0 {
				b.WriteString(v[i:])
				return b.String(), nil
			}
			ref := v[i+2 : i+2+end]
			val, ok, err := lookup(ref)
			if err != nil {
				return "", err
			}
			if ok {
				b.WriteString(val)
			} else {
				b.WriteString(v[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String(), nil
}

// envFromSecrets resolves name from the container's envFrom Secrets.
func envFromSecrets(p *corev1.Pod, c *corev1.Container, name string, secrets secretSource) (string, bool, error) {
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
