package gcs

import (
	"crypto/tls"
	"fmt"
	"time"
)

// DefaultTimeout bounds each RPC, and the initial connection in Dial, when
// Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

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
	// Timeout bounds every RPC, and Dial's wait for the connection. Zero or
	// negative means DefaultTimeout.
	Timeout time.Duration

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

// String describes the options without revealing the token.
func (o Options) String() string {
	return fmt.Sprintf("gcs.Options{Timeout: %s, Token: %s, TLS: %t}",
		o.timeout(), redactedToken(o.Token), o.TLS != nil)
}

// GoString is String, so that %#v does not reveal the token either.
func (o Options) GoString() string { return o.String() }
