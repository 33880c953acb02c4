package gcs

import (
	"crypto/tls"
	"fmt"
	"time"
)

// Deadlines. Ray's own client sets none on these calls (GcsClient in
// python/ray/includes/gcs_client.pxi passes timeout_ms = -1 for
// get_cluster_resource_state and drain_node), so the values are ours: each
// bounds how long one stuck GCS or raylet can hold a cluster's round.
const (
	// DefaultTimeout bounds Dial and the calls the GCS answers from its own
	// memory (GetClusterResourceState, ReportAutoscalingState, CheckAlive)
	// when Options.Timeout is zero. The cluster state of a few thousand
	// nodes is a few MiB; 10 s is two orders of magnitude above what that
	// takes on a loaded head.
	DefaultTimeout = 10 * time.Second
	// DefaultDrainTimeout bounds the two drain calls when
	// Options.DrainTimeout is zero. The GCS answers them only after a round
	// trip to the node's raylet (HandleDrainNode forwards DrainRaylet and
	// waits; "caller should add timeout"), and a raylet under load answers
	// slowly. A node that misses it is retried later; the rest of the round
	// does not wait for it, as drains run concurrently.
	DefaultDrainTimeout = 30 * time.Second
)

// Keep-alive settings for the GCS connection. Pings are sent only while an
// RPC is in flight (no pings without a stream), so an idle connection never
// pings the GCS.
const (
	keepaliveTime    = 30 * time.Second
	keepaliveTimeout = 10 * time.Second
)

// maxRecvMsgSize caps a reply. gRPC's default of 4 MiB is too small for the
// cluster state of a cluster with thousands of nodes.
const maxRecvMsgSize = 64 << 20

// Auth is the credential a Client sends to a GCS that runs with Ray token
// authentication.
type Auth int

const (
	// AuthNone sends nothing: a GCS with token authentication disabled (Ray's
	// default before 2.59). A non-empty Options.Token still selects
	// AuthToken.
	AuthNone Auth = iota
	// AuthToken sends Ray's shared token, Options.Token, as
	// "authorization: Bearer <token>" (RAY_AUTH_MODE=token).
	AuthToken
	// AuthKubernetes sends the caller's own Kubernetes ServiceAccount token,
	// read from Options.KubernetesTokenFile and re-read as the kubelet
	// rotates it, as "authorization: Bearer <token>". A GCS that delegates
	// authentication to Kubernetes (RAY_ENABLE_K8S_TOKEN_AUTH=true with
	// RAY_AUTH_MODE=token, or RAY_AUTH_MODE=k8s in the Ray builds that had
	// it) checks it with a TokenReview and a SubjectAccessReview
	// (src/ray/rpc/authentication/k8s_util.cc in Ray).
	AuthKubernetes
)

// String names the mode.
func (a Auth) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthToken:
		return "token"
	case AuthKubernetes:
		return "kubernetes"
	default:
		return fmt.Sprintf("Auth(%d)", int(a))
	}
}

// Options configures a Client. The zero value is a plaintext connection
// without authentication and with DefaultTimeout.
type Options struct {
	// Timeout bounds every RPC but the drains, and Dial's wait for the
	// connection. Zero or negative means DefaultTimeout.
	Timeout time.Duration

	// DrainTimeout bounds DrainNode and StopNode. Zero or negative means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration

	// Auth selects the credential every RPC carries. AuthNone with a
	// non-empty Token means AuthToken.
	Auth Auth

	// Token is Ray's shared auth token, sent with AuthToken. It never
	// appears in errors or in String output.
	Token string

	// KubernetesTokenFile is the file AuthKubernetes reads the caller's
	// ServiceAccount token from. Empty means DefaultKubernetesTokenFile
	// (the pod's own token). Outside a pod, point it at a token of the
	// scaler's ServiceAccount (`kubectl create token`), refreshed as it
	// expires. Other modes ignore it.
	KubernetesTokenFile string

	// KubernetesTokenRefresh is how long AuthKubernetes reuses a token read
	// from KubernetesTokenFile before reading the file again. Zero or
	// negative means DefaultKubernetesTokenRefresh.
	KubernetesTokenRefresh time.Duration

	// TLS, when non-nil, secures the connection (a GCS started with
	// RAY_USE_TLS=1). When nil the connection is plaintext, which is how a
	// Ray GCS listens by default.
	TLS *tls.Config

	// Authority, when set, is sent as the gRPC :authority instead of the
	// dialled address: the cluster's own GCS address when dialling through
	// a proxy or a simulator that serves many clusters on one port.
	Authority string
}

// auth returns the effective mode: AuthNone with a token is AuthToken.
func (o Options) auth() Auth {
	if o.Auth == AuthNone && o.Token != "" {
		return AuthToken
	}
	return o.Auth
}

// kubernetesTokenFile returns the ServiceAccount token file, applying the
// default.
func (o Options) kubernetesTokenFile() string {
	if o.KubernetesTokenFile == "" {
		return DefaultKubernetesTokenFile
	}
	return o.KubernetesTokenFile
}

// credentialString describes the credential without revealing a token.
func (o Options) credentialString() string {
	switch a := o.auth(); a {
	case AuthToken:
		return "token " + redactedToken(o.Token)
	case AuthKubernetes:
		return "kubernetes serviceaccount token from " + o.kubernetesTokenFile()
	default:
		return a.String()
	}
}

// timeout returns the per-call timeout, applying the default.
func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// drainTimeout returns the drain calls' timeout, applying the default.
func (o Options) drainTimeout() time.Duration {
	if o.DrainTimeout <= 0 {
		return DefaultDrainTimeout
	}
	return o.DrainTimeout
}

// String describes the options without revealing the token.
func (o Options) String() string {
	return fmt.Sprintf("gcs.Options{Timeout: %s, Auth: %s, TLS: %t}",
		o.timeout(), o.credentialString(), o.TLS != nil)
}

// GoString is String, so that %#v does not reveal the token either.
func (o Options) GoString() string { return o.String() }
