package scaler

import (
	"context"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// rayImageHome is the home directory of Ray's images (ENV HOME=/home/ray in
// Ray's docker/base-deps/Dockerfile), where Ray looks for its default token
// file when the container does not set HOME.
const rayImageHome = "/home/ray"

// defaultTokenSubpath is Ray's default token file under the home directory
// (GetDefaultTokenPath in Ray's
// src/ray/rpc/authentication/authentication_token_loader.cc).
const defaultTokenSubpath = ".ray/auth_token"

// fileOutcome is what a file in the Ray container turned out to be.
type fileOutcome int

const (
	// fileAbsent: no volume provides the file; it may exist in the image,
	// where raypilot cannot see.
	fileAbsent fileOutcome = iota
	// fileFromSecret: a Secret key provides the file; content is set.
	fileFromSecret
	// fileNotSecret: a volume that is not a Secret provides (or may provide)
	// the file; notSecret says which.
	fileNotSecret
)

// containerFile is the result of reading a file of the Ray container.
type containerFile struct {
	outcome   fileOutcome
	content   []byte
	from      string // "Secret ns/name, key k", for messages
	notSecret string // e.g. `volume "data" (emptyDir)`
}

// readContainerFile finds which volume backs file in the Ray container and,
// for a Secret (a secret volume or a Secret in a projected volume, with
// items and subPath mapped as the kubelet maps them), reads the key's value
// through the Secret reader. Nested mounts: the deepest mount path
// containing the file wins.
func (e *rayEnv) readContainerFile(ctx context.Context, file string) (containerFile, error) {
	file = path.Clean(file)
	var mount *corev1.VolumeMount
	for i := range e.container.VolumeMounts {
		m := &e.container.VolumeMounts[i]
		mp := path.Clean(m.MountPath)
		if (file == mp || strings.HasPrefix(file, strings.TrimSuffix(mp, "/")+"/")) && (mount == nil || len(mp) > len(path.Clean(mount.MountPath))) {
			mount = m
		}
	}
	if mount == nil {
		return containerFile{outcome: fileAbsent}, nil
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(mount.MountPath)), "/")
	sub := mount.SubPath
	if mount.SubPathExpr != "" {
		sub = e.expand(mount.SubPathExpr, len(e.container.Env))
	}
	inVolume := path.Clean(path.Join(sub, rel))
	if inVolume == "." {
		return containerFile{outcome: fileNotSecret, notSecret: fmt.Sprintf("the root of volume %q (a directory)", mount.Name)}, nil
	}
	var vol *corev1.Volume
	for i := range e.pod.Spec.Volumes {
		if e.pod.Spec.Volumes[i].Name == mount.Name {
			vol = &e.pod.Spec.Volumes[i]
		}
	}
	if vol == nil {
		return containerFile{}, fmt.Errorf("%s: volumeMount %q names no volume of the pod", e.where(), mount.Name)
	}
	switch {
	case vol.Secret != nil:
		s := vol.Secret
		return e.secretFile(ctx, s.SecretName, s.Items, s.Optional, inVolume)
	case vol.Projected != nil:
		return e.projectedFile(ctx, vol, inVolume)
	case vol.ConfigMap != nil:
		if _, ok := keyAt(vol.ConfigMap.Items, inVolume); !ok {
			return containerFile{outcome: fileAbsent}, nil
		}
		return containerFile{outcome: fileNotSecret, notSecret: fmt.Sprintf("volume %q (%s)", vol.Name, volumeKind(vol))}, nil
	default:
		return containerFile{outcome: fileNotSecret, notSecret: fmt.Sprintf("volume %q (%s)", vol.Name, volumeKind(vol))}, nil
	}
}

// secretFile reads the file inVolume of a Secret projected with items (or
// every key when items is empty).
func (e *rayEnv) secretFile(ctx context.Context, name string, items []corev1.KeyToPath, optional *bool, inVolume string) (containerFile, error) {
	key, ok := keyAt(items, inVolume)
	if !ok {
		return containerFile{outcome: fileAbsent}, nil
	}
	data, found, err := e.readSecret(ctx, name, optional != nil && *optional)
	if err != nil {
		return containerFile{}, fmt.Errorf("%s: %w", e.where(), err)
	}
	raw, has := data[key]
	if !found || !has {
		// The kubelet writes no file for a key the Secret lacks.
		return containerFile{outcome: fileAbsent}, nil
	}
	return containerFile{outcome: fileFromSecret, content: raw, from: fmt.Sprintf("Secret %s/%s, key %s", e.pod.Namespace, name, key)}, nil
}

// projectedFile finds which source of a projected volume writes inVolume.
func (e *rayEnv) projectedFile(ctx context.Context, vol *corev1.Volume, inVolume string) (containerFile, error) {
	var other []string
	for _, src := range vol.Projected.Sources {
		switch {
		case src.Secret != nil:
			f, err := e.secretFile(ctx, src.Secret.Name, src.Secret.Items, src.Secret.Optional, inVolume)
			if err != nil || f.outcome == fileFromSecret {
				return f, err
			}
		case src.ServiceAccountToken != nil:
			if path.Clean(src.ServiceAccountToken.Path) == inVolume {
				other = append(other, "a projected ServiceAccount token, which only the pod can read")
			}
		case src.ConfigMap != nil:
			if _, ok := keyAt(src.ConfigMap.Items, inVolume); ok {
				other = append(other, "ConfigMap "+src.ConfigMap.Name)
			}
		case src.DownwardAPI != nil:
			for _, it := range src.DownwardAPI.Items {
				if path.Clean(it.Path) == inVolume {
					other = append(other, "the downward API")
				}
			}
		case src.ClusterTrustBundle != nil:
			if path.Clean(src.ClusterTrustBundle.Path) == inVolume {
				other = append(other, "a ClusterTrustBundle")
			}
		}
	}
	if len(other) == 0 {
		return containerFile{outcome: fileAbsent}, nil
	}
	return containerFile{outcome: fileNotSecret, notSecret: fmt.Sprintf("projected volume %q (%s)", vol.Name, strings.Join(other, ", "))}, nil
}

// keyAt returns the key a Secret or ConfigMap volume writes at inVolume:
// the item mapped there, or, without items, the key named like the file.
func keyAt(items []corev1.KeyToPath, inVolume string) (string, bool) {
	if len(items) == 0 {
		return inVolume, !strings.Contains(inVolume, "/")
	}
	for _, it := range items {
		if path.Clean(it.Path) == inVolume {
			return it.Key, true
		}
	}
	return "", false
}

// volumeKind names a volume's source for messages.
func volumeKind(v *corev1.Volume) string {
	switch {
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.ConfigMap != nil:
		return "ConfigMap " + v.ConfigMap.Name
	case v.HostPath != nil:
		return "hostPath"
	case v.PersistentVolumeClaim != nil:
		return "PersistentVolumeClaim " + v.PersistentVolumeClaim.ClaimName
	case v.CSI != nil:
		return "CSI driver " + v.CSI.Driver
	case v.DownwardAPI != nil:
		return "downward API"
	case v.Ephemeral != nil:
		return "ephemeral volume"
	case v.Image != nil:
		return "image volume"
	default:
		return "not a Secret"
	}
}

// defaultTokenFile returns where Ray looks for its default token file in
// the Ray container: $HOME/.ray/auth_token with the container's HOME. When
// the container does not set HOME, the image's HOME is unknown: a volume
// mounted at */.ray or */.ray/auth_token is taken as the one meant, else
// Ray's images' home (/home/ray).
func (e *rayEnv) defaultTokenFile() string {
	if home, set, err := e.literal(envHome); err == nil && set && home != "" {
		return path.Join(home, defaultTokenSubpath)
	}
	for _, m := range e.container.VolumeMounts {
		mp := path.Clean(m.MountPath)
		switch {
		case strings.HasSuffix(mp, "/"+defaultTokenSubpath):
			return mp
		case strings.HasSuffix(mp, "/.ray"):
			return path.Join(mp, "auth_token")
		}
	}
	return path.Join(rayImageHome, defaultTokenSubpath)
}
