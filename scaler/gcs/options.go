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

// Options configures a Client. The zero value is a plaintext connection
// without authentication and with DefaultTimeout.
type Options struct {
	// Timeout bounds every RPC but the drains, and Dial's wait for the
	// connection. Zero or negative means DefaultTimeout.
	Timeout time.Duration

	// DrainTimeout bounds DrainNode and StopNode. Zero or negative means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration

	// Token is Ray's auth token. When non-empty, every RPC carries the
	// gRPC metadata "authorization: Bearer <Token>", as a Ray GCS running
	// with RAY_AUTH_MODE=token requires. It never appears in errors or in
	// String output.
	Token string

	// TLS, when non-nil, secures the connection (a GCS started with
	// RAY_USE_TLS=1). When nil the connection is plaintext, which is how a
	// Ray GCS listens by default.
	TLS *tls.Config

	// Authority, when set, is sent as the gRPC :authority instead of the
	// dialled address: the cluster's own GCS address when dialling through
	// a proxy or a simulator that serves many clusters on one port.
	Authority string
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
	return fmt.Sprintf("gcs.Options{Timeout: %s, Token: %s, TLS: %t}",
		o.timeout(), redactedToken(o.Token), o.TLS != nil)
}

// GoString is String, so that %#v does not reveal the token either.
func (o Options) GoString() string { return o.String() }
