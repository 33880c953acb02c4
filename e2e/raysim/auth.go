package raysim

// Ray's token authentication on the GCS port:
//   - the mode is RayConfig AUTH_MODE (env RAY_AUTH_MODE), compared after
//     lowercasing: "token" enables it (src/ray/rpc/authentication/authentication_mode.cc,
//     commit 0718d5b02581bfef3960d8e37c4d6484f7c368f9).
//   - the GCS loads its token once, at start: env RAY_AUTH_TOKEN, else the
//     first line of the file RAY_AUTH_TOKEN_PATH names, else
//     ~/.ray/auth_token, each trimmed of white space; token mode without a
//     token aborts the process (authentication_token_loader.cc, commit
//     03864b8784e29fbf492bd40cc897d35feb5caa59).
//   - every call must then carry metadata "authorization: Bearer <token>";
//     any other fails UNAUTHENTICATED "InvalidAuthToken: Authentication token
//     is missing or incorrect" (the message
//     src/ray/rpc/authentication/tests/grpc_auth_token_tests.cc expects,
//     commit 062e0c5f7b0041b4c513eb48394e9fcb30ed944d).
//   - every GCS service requires it but InternalKV, registered with
//     token_auth false; NodeInfoGcsService and AutoscalerStateService use the
//     default (src/ray/gcs/gcs_server.cc, commit
//     b1be5318391b7edfbe01b7cd4c0acc080e4d0783).
//
// raysim reads the head pod's Ray container as the kubelet would start it:
// RAY_AUTH_TOKEN as a value or a secretKeyRef, RAY_AUTH_TOKEN_PATH through
// the container's volume mounts to a Secret (or projected Secret) volume.
// The default file lives in the container image and cannot be read: a head
// in token mode without either is a GCS that failed to start.

import (
	"context"
	"crypto/subtle"
	"fmt"
	"path"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// authMetadataKey and bearerPrefix form Ray's token header
// (kAuthTokenKey, src/ray/rpc/authentication/authentication_token.h).
const (
	authMetadataKey = "authorization"
	bearerPrefix    = "Bearer "
	invalidToken    = "InvalidAuthToken: Authentication token is missing or incorrect"
)

// authState is what a cluster's GCS requires of callers.
type authState struct {
	// From the head pod, read once per head (a GCS reads its token at
	// start); a failure is read again at the next sync, as the kubelet
	// retries a container whose Secret is missing.
	head     types.UID
	fromPod  bool
	modeSet  bool   // RAY_AUTH_MODE is set
	podMode  string // its value
	podToken string // "" when no source gives one
	tokenErr error  // a token source is set but cannot be read
	envErr   error  // the kubelet cannot start the Ray container
	// A test set the token through the control API.
	override  bool
	overToken string
}

// Ray releases after which `ray start --head` with RAY_AUTH_MODE unset
// turns token authentication on when a token is available from any source
// (maybe_enable_token_auth_if_token_available,
// python/ray/_private/authentication/authentication_token_setup.py; "the
// default for local clusters starting in Ray 2.59",
// doc/source/ray-core/internals/token-authentication.md at commit
// a5521b2f447b5dd30c0933e46f2f9e32f876a70c). The same document makes token
// mode the default for every cluster from 2.61; how a head without any
// token source then starts is not simulated (it is treated as 2.59).
const tokenIfAvailableMajor, tokenIfAvailableMinor = 2, 59

// tokenMode reports whether the head's GCS runs in token mode, given the
// cluster's Ray version.
func (a *authState) tokenMode(rayVersion string) bool {
	switch {
	case a.override:
		return true
	case !a.fromPod:
		return false
	case a.modeSet:
		return strings.ToLower(a.podMode) == "token"
	default:
		return versionAtLeast(rayVersion, tokenIfAvailableMajor, tokenIfAvailableMinor) && (a.podToken != "" || a.tokenErr != nil)
	}
}

// versionAtLeast reports whether "MAJOR.MINOR[...]" is at least
// wantMajor.wantMinor; an unparsable version is older.
func versionAtLeast(v string, wantMajor, wantMinor int) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > wantMajor || major == wantMajor && minor >= wantMinor
}

// sync reads the auth settings of a new head pod.
func (a *authState) sync(head *corev1.Pod, secrets secretSource) {
	if head == nil {
		return
	}
	if a.fromPod && a.head == head.UID && a.envErr == nil && a.tokenErr == nil {
		return
	}
	override, overToken := a.override, a.overToken
	*a = authState{head: head.UID, fromPod: true, override: override, overToken: overToken}
	c := rayContainer(head)
	mode, set, err := envValue(head, c, "RAY_AUTH_MODE", secrets)
	if err != nil {
		a.envErr = err
		return
	}
	a.modeSet, a.podMode = set, mode
	a.podToken, a.tokenErr, a.envErr = podToken(head, c, secrets)
}

// podToken loads the token as Ray's AuthenticationTokenLoader would in the
// head's Ray container: "" when no source is set. rayErr is Ray's failure
// to read a source that is set; kubeletErr means the container cannot
// start (a Secret its environment names is missing).
func podToken(p *corev1.Pod, c *corev1.Container, secrets secretSource) (token string, rayErr, kubeletErr error) {
	if v, ok, err := envValue(p, c, "RAY_AUTH_TOKEN", secrets); err != nil {
		return "", nil, err
	} else if ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), nil, nil
	}
	file, ok, err := envValue(p, c, "RAY_AUTH_TOKEN_PATH", secrets)
	if err != nil {
		return "", nil, err
	}
	if !ok || file == "" {
		return "", nil, nil // ~/.ray/auth_token lives in the image: raysim cannot read it
	}
	data, err := mountedSecretFile(p, c, file, secrets)
	if err != nil {
		return "", fmt.Errorf("RAY_AUTH_TOKEN_PATH is set but file cannot be opened or is empty: %s (%v)", file, err), nil
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if token := strings.TrimSpace(line); token != "" {
		return token, nil, nil
	}
	return "", fmt.Errorf("RAY_AUTH_TOKEN_PATH is set but file cannot be opened or is empty: %s", file), nil
}

// mountedSecretFile returns the content of file in container c when a
// Secret volume provides it: the volume mount holding the path, the volume,
// the Secret key its items (or the file name) map to.
func mountedSecretFile(p *corev1.Pod, c *corev1.Container, file string, secrets secretSource) ([]byte, error) {
	file = path.Clean(file)
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		mp := path.Clean(m.MountPath)
		if (file == mp || strings.HasPrefix(file, mp+"/")) && (mount == nil || len(mp) > len(path.Clean(mount.MountPath))) {
			mount = m
		}
	}
	if mount == nil {
		return nil, fmt.Errorf("no volume mount holds %s", file)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(mount.MountPath)), "/")
	inVolume := path.Join(mount.SubPath, rel)
	for _, v := range p.Spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		switch {
		case v.Secret != nil:
			return secretFile(p.Namespace, v.Secret.SecretName, v.Secret.Items, inVolume, secrets)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					continue
				}
				if data, err := secretFile(p.Namespace, src.Secret.Name, src.Secret.Items, inVolume, secrets); err == nil {
					return data, nil
				}
			}
			return nil, fmt.Errorf("no Secret of projected volume %s provides %s", v.Name, inVolume)
		default:
			return nil, fmt.Errorf("volume %s is not a Secret volume", v.Name)
		}
	}
	return nil, fmt.Errorf("the pod has no volume %s", mount.Name)
}

// secretFile is the file at rel in a volume of Secret name.
func secretFile(namespace, name string, items []corev1.KeyToPath, rel string, secrets secretSource) ([]byte, error) {
	data, ok := lookupSecret(secrets, namespace, name)
	if !ok {
		return nil, fmt.Errorf("secret %s/%s not found", namespace, name)
	}
	key := rel
	if len(items) > 0 {
		key = ""
		for _, it := range items {
			if path.Clean(it.Path) == rel {
				key = it.Key
			}
		}
	}
	v, ok := data[key]
	if key == "" || !ok {
		return nil, fmt.Errorf("secret %s/%s provides no file %s", namespace, name, rel)
	}
	return v, nil
}

// noTokenMessage is Ray's abort message for token mode without a token
// (kNoTokenErrorMessage, authentication_token_loader.cc).
const noTokenMessage = "Token authentication is enabled but Ray couldn't find an authentication token. " +
	"Create a token file at ~/.ray/auth_token, or store the token in any file and set RAY_AUTH_TOKEN_PATH to point to it, " +
	"or set the RAY_AUTH_TOKEN environment variable."

// check admits a call carrying md to a GCS of rayVersion, or returns Ray's
// error; a GCS that could not start answers UNAVAILABLE.
func (a *authState) check(md metadata.MD, rayVersion string) error {
	if a.override {
		return checkToken(md, a.overToken)
	}
	if a.envErr != nil {
		return status.Error(codes.Unavailable, "raysim: the cluster's GCS is not running: its container cannot start: "+a.envErr.Error())
	}
	if !a.tokenMode(rayVersion) {
		return nil
	}
	switch {
	case a.tokenErr != nil:
		return status.Error(codes.Unavailable, "raysim: the cluster's GCS is not running: "+a.tokenErr.Error())
	case a.podToken == "":
		return status.Error(codes.Unavailable, "raysim: the cluster's GCS is not running: "+noTokenMessage)
	}
	return checkToken(md, a.podToken)
}

func checkToken(md metadata.MD, token string) error {
	for _, v := range md.Get(authMetadataKey) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(bearerPrefix+token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, invalidToken)
}

// authInterceptor applies the cluster's token rule to every call, after
// the cluster faults (a partition hides the GCS before it can check).
func (s *Sim) authInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if c := s.lookupByAuthority(md); c != nil {
		c.mu.Lock()
		err := c.auth.check(md, c.settings.RayVersion)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
}
