package gcs

import (
	"context"
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
	// AuthKubernetes sends a Kubernetes ServiceAccount token obtained from
	// Options.TokenSource before every RPC, as "authorization: Bearer
	// <token>". A GCS that delegates authentication to Kubernetes
	// (RAY_ENABLE_K8S_TOKEN_AUTH=true with RAY_AUTH_MODE=token, or
	// RAY_AUTH_MODE=k8s in the Ray builds that had it) checks it with a
	// TokenReview that names no audience and a SubjectAccessReview
	// (src/ray/rpc/authentication/k8s_util.cc in Ray), so the token is one
	// the Kubernetes API accepts too, and whoever runs the head sees it: the
	// source must hand out tokens of an identity that may do nothing else
	// (the scaler's is a dedicated ServiceAccount, never its own).
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

// TokenSource supplies the bearer token that AuthKubernetes sends, keeping
// the gcs package free of Kubernetes types: the scaler's implementation
// asks the Kubernetes TokenRequest API for short-lived tokens of a
// dedicated ServiceAccount.
type TokenSource interface {
	// Token returns the token to send with one RPC. ctx is the RPC's
	// context, bounded by its timeout. Errors must not contain a token.
	Token(ctx context.Context) (string, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// String names the adapter, never a token.
func (TokenSourceFunc) String() string { return "a token function" }

// sourceName describes a TokenSource for String output: its own String
// when it has one, never a token.
func sourceName(src TokenSource) string {
	switch s := src.(type) {
	case nil:
		return "<no token source>"
	case fmt.Stringer:
		return s.String()
	default:
		return fmt.Sprintf("a %T", src)
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

	// TokenSource supplies the token of AuthKubernetes. It is asked before
	// every RPC (and once by Dial, so that a source that cannot deliver
	// fails there), so it should cache. Required with AuthKubernetes;
	// ignored by the other modes. Its tokens never appear in errors or in
	// String output; String output names the source when it is a
	// fmt.Stringer.
	TokenSource TokenSource

	// TLS, when non-nil, secures the connection (a GCS started with
	// RAY_USE_TLS=1). When nil the connection is plaintext, which is how a
	// Ray GCS listens by default.
	TLS *tls.Config

	// Authority, when set, is sent as the gRPC :authority instead of the
	// dialled address: the cluster's own GCS address when dialling through
	// a proxy or a simulator that serves many clusters on one port.
	Authority string

	// Observe, when set, is told of every request to the GCS: Dial's
	// connection attempt and each RPC sent (CallObserver).
	Observe CallObserver
}

// auth returns the effective mode: AuthNone with a token is AuthToken.
func (o Options) auth() Auth {
	if o.Auth == AuthNone && o.Token != "" {
		return AuthToken
	}
	return o.Auth
}

// credentialString describes the credential without revealing a token.
func (o Options) credentialString() string {
	switch a := o.auth(); a {
	case AuthToken:
		return "token " + redactedToken(o.Token)
	case AuthKubernetes:
		return "kubernetes serviceaccount token from " + sourceName(o.TokenSource)
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
