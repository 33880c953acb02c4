package scaler

import (
	"context"
	"fmt"
	"path"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler/gcs"
)

// RayAuth is the credential sent to one cluster's GCS.
type RayAuth struct {
	// Mode is what every RPC carries.
	Mode gcs.Auth
	// Token is Ray's shared token, for gcs.AuthToken only.
	Token string
	// Source gives the tokens of gcs.AuthKubernetes: the Ray client
	// ServiceAccount's (never raypilot's own), for gcs.AuthKubernetes only.
	Source gcs.TokenSource
	// Why explains the choice (the mode's reason, the token's source),
	// never showing the token.
	Why string
}

// String describes the credential without the token.
func (a RayAuth) String() string { return fmt.Sprintf("%s (%s)", a.Mode, a.Why) }

// GoString is String, so that %#v hides the token too.
func (a RayAuth) GoString() string { return a.String() }

// Apply returns opts carrying the credential.
func (a RayAuth) Apply(opts gcs.Options) gcs.Options {
	opts.Auth, opts.Token, opts.TokenSource = a.Mode, a.Token, a.Source
	return opts
}

// GCSAuth finds what to send to rc's GCS, the way a Ray client started in
// the head's Ray container would (Ray's
// src/ray/rpc/authentication/authentication_mode.cc and
// authentication_token_loader.cc): the mode from RAY_AUTH_MODE and
// RAY_ENABLE_K8S_TOKEN_AUTH, or Ray's default for the head's version (see
// rayAuthModeFor); in token mode the token from RAY_AUTH_TOKEN, else the
// file at RAY_AUTH_TOKEN_PATH, else Ray's default token file, each read
// through secrets from the Secret behind it (findRayToken); in Kubernetes
// mode the tokens of rayClient, the dedicated Ray client ServiceAccount's,
// and when it is nil, an error wrapping ErrKubernetesAuthOff: raypilot
// never sends its own ServiceAccount token, which the head's owner could
// capture. head is the running head pod. Errors name the pod, the variable
// or file and the fix, and never contain a token.
func GCSAuth(ctx context.Context, secrets client.Reader, rayClient gcs.TokenSource, rc *rayv1.RayCluster, head *corev1.Pod) (RayAuth, error) {
	if head == nil {
		return RayAuth{Mode: gcs.AuthNone, Why: "no head pod"}, nil
	}
	c := rayContainer(head)
	if c == nil {
		return RayAuth{Mode: gcs.AuthNone, Why: "the head pod has no container"}, nil
	}
	pod := head
	if pod.Namespace == "" && rc != nil {
		pod = head.DeepCopy()
		pod.Namespace = rc.Namespace
		c = rayContainer(pod)
	}
	env := &rayEnv{pod: pod, container: c, secrets: secrets}
	d, err := rayAuthModeFor(env, headRayVersion(rc, c))
	if err != nil {
		return RayAuth{}, fmt.Errorf("Ray token authentication: %w", err)
	}
	switch d.mode {
	case modeDisabled:
		return RayAuth{Mode: gcs.AuthNone, Why: d.why}, nil
	case modeKubernetes:
		if rayClient == nil {
			return RayAuth{}, fmt.Errorf("Ray token authentication (%s): %s: %w", d.why, env.where(), ErrKubernetesAuthOff)
		}
		return RayAuth{Mode: gcs.AuthKubernetes, Source: rayClient,
			Why: d.why + ": Kubernetes token authentication; raypilot sends short-lived tokens from " + sourceName(rayClient)}, nil
	}
	required := d.mode == modeToken
	token, from, err := findRayToken(ctx, env, required)
	if err != nil {
		return RayAuth{}, fmt.Errorf("Ray token authentication (%s): %w", d.why, err)
	}
	if token == "" {
		return RayAuth{Mode: gcs.AuthNone, Why: d.why + "; the head has no token, so it runs without token authentication"}, nil
	}
	return RayAuth{Mode: gcs.AuthToken, Token: token, Why: d.why + "; token from " + from}, nil
}

// sourceName names a token source for reasons and errors: its String when
// it has one (serviceAccountTokens names its ServiceAccount), else its
// type, never its fields, which may hold a token.
func sourceName(src gcs.TokenSource) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("a %T", src)
}

// findRayToken returns Ray's shared token from the Ray container's sources
// in Ray's order (TryLoadTokenFromSources in Ray's
// src/ray/rpc/authentication/authentication_token_loader.cc):
//
//  1. RAY_AUTH_TOKEN, when set and not empty: its value trimmed (a plain
//     value or a Secret key; with required, also a key of an envFrom
//     Secret);
//  2. RAY_AUTH_TOKEN_PATH, when set and not empty: the first line of that
//     file, trimmed; a file raypilot cannot read, or an empty one, is an
//     error, as it is for Ray;
//  3. Ray's default token file, $HOME/.ray/auth_token (defaultTokenFile).
//
// Files are read from the Secret the container mounts there
// (readContainerFile). With required (token authentication is on), finding
// nothing is an error; without (on only if the head has a token), it
// returns "" and so does a default token file on a volume that is not a
// Secret. from names the source, never the token.
func findRayToken(ctx context.Context, env *rayEnv, required bool) (token, from string, err error) {
	raw, set, from, err := env.secretValue(ctx, envRayAuthToken, required)
	if err != nil {
		return "", "", err
	}
	if set && raw != "" {
		token := gcs.TrimToken(raw)
		if token == "" {
			return "", "", fmt.Errorf("%s: %s from %s holds only white space, an empty token", env.where(), envRayAuthToken, from)
		}
		if err := gcs.ValidateToken(token); err != nil {
			return "", "", fmt.Errorf("%s: %s: %w", env.where(), from, err)
		}
		return token, from, nil
	}

	file, set, err := env.literal(envRayAuthPath)
	if err != nil {
		return "", "", err
	}
	if set && file != "" {
		return tokenAtPath(ctx, env, file)
	}

	file = env.defaultTokenFile()
	f, err := env.readContainerFile(ctx, file)
	if err != nil {
		return "", "", err
	}
	switch {
	case f.outcome == fileFromSecret:
		if token := gcs.TokenFromFile(f.content); token != "" {
			if err := gcs.ValidateToken(token); err != nil {
				return "", "", fmt.Errorf("%s: Ray's default token file %s (%s): %w", env.where(), file, f.from, err)
			}
			return token, fmt.Sprintf("Ray's default token file %s (%s)", file, f.from), nil
		}
	case f.outcome == fileNotSecret && required:
		return "", "", fmt.Errorf("%s: %s and %s are not set, and Ray's default token file %s is on %s, not a Secret: "+
			"raypilot reads Ray's token only from Secrets; take %s from a Secret key (KubeRay's spec.authOptions does) "+
			"or mount the token from a Secret at %s",
			env.where(), envRayAuthToken, envRayAuthPath, file, f.notSecret, envRayAuthToken, file)
	}
	if required {
		return "", "", fmt.Errorf("%s: no token raypilot can read: %s and %s are not set and Ray's default token file %s is not mounted from a Secret "+
			"(a token generated inside the pod or baked into the image is out of raypilot's reach); "+
			"take %s from a Secret key (KubeRay's spec.authOptions does), or mount the token from a Secret at %s or at %s",
			env.where(), envRayAuthToken, envRayAuthPath, file, envRayAuthToken, file, envRayAuthPath)
	}
	return "", "", nil
}

// tokenAtPath reads the token at RAY_AUTH_TOKEN_PATH. Ray refuses to start
// when that file is missing or empty, so anything but a non-empty Secret
// key there is an error.
func tokenAtPath(ctx context.Context, env *rayEnv, file string) (token, from string, err error) {
	what := fmt.Sprintf("%s=%s", envRayAuthPath, file)
	if !path.IsAbs(file) {
		if env.container.WorkingDir == "" {
			return "", "", fmt.Errorf("%s: %s is relative and the container's working directory is not in its spec; use an absolute path", env.where(), what)
		}
		file = path.Join(env.container.WorkingDir, file)
	}
	f, err := env.readContainerFile(ctx, file)
	if err != nil {
		return "", "", err
	}
	switch f.outcome {
	case fileNotSecret:
		return "", "", fmt.Errorf("%s: %s is on %s, not a Secret: raypilot reads Ray's token only from Secrets; "+
			"mount the token file from a Secret there (a secret volume, with items or subPath as needed), or take %s from a Secret key",
			env.where(), what, f.notSecret, envRayAuthToken)
	case fileAbsent:
		return "", "", fmt.Errorf("%s: %s is not under a volume mounted from a Secret (nor does that Secret hold the file), "+
			"so raypilot cannot read it; mount the token file from a Secret there, or take %s from a Secret key",
			env.where(), what, envRayAuthToken)
	}
	token = gcs.TokenFromFile(f.content)
	if token == "" {
		return "", "", fmt.Errorf("%s: %s (%s) is empty; Ray refuses an empty token file", env.where(), what, f.from)
	}
	if err := gcs.ValidateToken(token); err != nil {
		return "", "", fmt.Errorf("%s: %s (%s): %w", env.where(), what, f.from, err)
	}
	return token, fmt.Sprintf("%s (%s)", what, f.from), nil
}
