package scaler

import (
	"fmt"
	"strings"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"
)

// The environment variables Ray's processes read for token authentication.
// RayConfig reads AUTH_MODE and ENABLE_K8S_TOKEN_AUTH as "RAY_" + their
// name (src/ray/common/ray_config.h, ray_config_def.h); the token loader
// reads the token sources (src/ray/rpc/authentication/
// authentication_token_loader.cc).
const (
	envRayAuthMode     = "RAY_AUTH_MODE"
	envRayK8sTokenAuth = "RAY_ENABLE_K8S_TOKEN_AUTH"
	envRayAuthToken    = "RAY_AUTH_TOKEN"
	envRayAuthPath     = "RAY_AUTH_TOKEN_PATH"
	envHome            = "HOME"
)

// Ray releases where token authentication changed. Sources (Ray
// repository):
//   - 2.52.0: token authentication exists, off unless RAY_AUTH_MODE=token
//     (doc/source/ray-security/token-auth.md; AUTH_MODE defaults to
//     "disabled" in src/ray/common/ray_config_def.h).
//   - 2.59.0: `ray start --head` (how KubeRay starts the head) turns token
//     authentication on when RAY_AUTH_MODE is unset and a token is available
//     from any source (maybe_enable_token_auth_if_token_available in
//     python/ray/_private/authentication/authentication_token_setup.py).
//   - 2.61.0: token authentication is the default for every cluster;
//     RAY_AUTH_MODE=disabled is the opt-out
//     (doc/source/ray-core/internals/token-authentication.md at commit
//     a5521b2f447b5dd30c0933e46f2f9e32f876a70c: "Default for local
//     clusters starting in Ray 2.59, and for all clusters starting in Ray
//     2.61").
var (
	rayTokenIfAvailable = version.MustParseGeneric("2.59.0")
	rayTokenByDefault   = version.MustParseGeneric("2.61.0")
)

// authMode is what the head's GCS demands, as far as its pod spec tells.
type authMode int

const (
	// modeDisabled: no authentication.
	modeDisabled authMode = iota
	// modeToken: Ray's shared token, which the scaler must find.
	modeToken
	// modeTokenIfAvailable: token authentication is on exactly when the
	// head finds a token (Ray 2.59 and 2.60, or an unknown Ray version,
	// with RAY_AUTH_MODE unset): the scaler sends a token it finds and
	// nothing otherwise.
	modeTokenIfAvailable
	// modeKubernetes: the GCS checks the caller's Kubernetes
	// ServiceAccount token; the scaler sends the Ray client
	// ServiceAccount's, never its own, and refuses the cluster without one.
	modeKubernetes
)

// modeDecision is the mode and the reason for it, for errors.
type modeDecision struct {
	mode authMode
	why  string
}

// rayAuthModeFor applies Ray's rules to the Ray container's environment.
// rayVersion is the head's Ray version, nil when unknown; it matters only
// when RAY_AUTH_MODE is unset.
//
//   - RAY_ENABLE_K8S_TOKEN_AUTH, parsed as RayConfig parses booleans
//     ("true" or "1", any case: ConvertValue<bool> in
//     src/ray/common/ray_config.h), selects Kubernetes authentication;
//     Ray 2.55 and later require it together with RAY_AUTH_MODE=token
//     (doc/source/cluster/kubernetes/user-guides/kuberay-auth-rbac.md).
//   - RAY_AUTH_MODE is compared lowercased: "token" is token mode; "k8s" is
//     Kubernetes mode in the Ray builds that accepted it
//     (src/ray/rpc/authentication/authentication_mode.cc at commit
//     478a30b1a3aa31294ea450490143d57a356ecc18), while later ones, which
//     know only "token" (same file at commit
//     0718d5b02581bfef3960d8e37c4d6484f7c368f9), treat it as disabled, as
//     they treat every other value. The scaler cannot tell the builds
//     apart and takes "k8s" as Kubernetes mode: it sends the Ray client
//     ServiceAccount's token, which such a GCS ignores, or, with
//     Kubernetes mode off, refuses the cluster (remove the variable).
//   - Unset: Ray's default for the version (see rayTokenIfAvailable).
func rayAuthModeFor(env *rayEnv, rayVersion *version.Version) (modeDecision, error) {
	k8s, k8sSet, err := env.literal(envRayK8sTokenAuth)
	if err != nil {
		return modeDecision{}, err
	}
	if k8sSet {
		if v := strings.ToLower(k8s); v == "true" || v == "1" {
			return modeDecision{modeKubernetes, envRayK8sTokenAuth + "=" + k8s}, nil
		}
	}
	mode, set, err := env.literal(envRayAuthMode)
	if err != nil {
		return modeDecision{}, err
	}
	if set {
		switch strings.ToLower(mode) {
		case "token":
			return modeDecision{modeToken, envRayAuthMode + "=" + mode}, nil
		case "k8s":
			return modeDecision{modeKubernetes, envRayAuthMode + "=" + mode}, nil
		default:
			return modeDecision{modeDisabled, fmt.Sprintf("%s=%q", envRayAuthMode, mode)}, nil
		}
	}
	switch {
	case rayVersion == nil:
		return modeDecision{modeTokenIfAvailable, envRayAuthMode + " unset and the Ray version unknown " +
			"(Ray 2.59 and later turn token authentication on when a token is available, 2.61 and later always)"}, nil
	case rayVersion.AtLeast(rayTokenByDefault):
		return modeDecision{modeToken, fmt.Sprintf("%s unset: Ray %s has token authentication on by default "+
			"(set %s=disabled on the head's Ray container to opt out)", envRayAuthMode, rayVersion, envRayAuthMode)}, nil
	case rayVersion.AtLeast(rayTokenIfAvailable):
		return modeDecision{modeTokenIfAvailable, fmt.Sprintf("%s unset: Ray %s turns token authentication on when a token is available",
			envRayAuthMode, rayVersion)}, nil
	default:
		return modeDecision{modeDisabled, fmt.Sprintf("%s unset: Ray %s has token authentication off by default", envRayAuthMode, rayVersion)}, nil
	}
}

// headRayVersion returns the Ray version of rc's head: spec.rayVersion,
// which KubeRay documents as the Ray version the cluster runs, else the tag
// of the Ray container's image when the image is one of Ray's own
// (repository rayproject/ray and its variants, e.g. "2.52.0-py311-gpu").
// nil when neither tells.
func headRayVersion(rc *rayv1.RayCluster, c *corev1.Container) *version.Version {
	if rc != nil {
		if v, err := version.ParseGeneric(rc.Spec.RayVersion); err == nil {
			return v
		}
	}
	if c == nil {
		return nil
	}
	image, _, _ := strings.Cut(c.Image, "@")
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return nil // no tag
	}
	repo, tag := image[:colon], image[colon+1:]
	if !strings.HasPrefix(repo[slash+1:], "ray") || !strings.Contains(repo, "rayproject/") {
		return nil
	}
	v, err := version.ParseGeneric(tag)
	if err != nil {
		return nil
	}
	return v
}
