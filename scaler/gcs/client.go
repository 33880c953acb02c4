package gcs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// Client talks to the autoscaler API of one Ray cluster's GCS. It is safe
// for concurrent use. Close it when done.
type Client struct {
	addr string
	// token is Ray's shared token (AuthToken), removed from errors.
	token string
	// credential describes what the RPCs carry, without any token.
	credential string
	timeout    time.Duration
	// drainTimeout bounds DrainNode and StopNode.
	drainTimeout time.Duration
	tls          bool
	conn         *grpc.ClientConn
	rpc          rpcpb.AutoscalerStateServiceClient
	node         nodeinfopb.NodeInfoGcsServiceClient
}

// Dial connects to the GCS at addr ("host:port", e.g.
// "raycluster-head-svc.ns.svc:6379") and waits until the connection is
// ready, for at most the per-call timeout or until ctx ends. Errors name
// the address and never contain a token. With AuthKubernetes, Dial asks
// Options.TokenSource for a token once, before connecting, so that a
// source that cannot deliver fails here rather than on every RPC.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	if addr == "" {
		return nil, errors.New("gcs: dial: empty address")
	}
	cred, err := newCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("gcs %s: dial: %w", addr, err)
	}
	if src, ok := cred.(sourcedToken); ok {
		tokenCtx, cancel := context.WithTimeout(ctx, opts.timeout())
		_, err := src.token(tokenCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("gcs %s: dial: %w", addr, err)
		}
	}
	dialOpts := dialOptions(opts, cred)
	conn, err := grpc.NewClient(passthrough+addr, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("gcs %s: dial: %w", addr, redactError(err, opts.Token))
	}
	waitCtx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	start := time.Now()
	err = waitReady(waitCtx, conn)
	if opts.Observe != nil {
		opts.Observe(CallDial, dialCode(err), time.Since(start))
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("gcs %s: connect: %w", addr, err)
	}
	return &Client{
		addr:         addr,
		token:        opts.Token,
		credential:   opts.credentialString(),
		timeout:      opts.timeout(),
		drainTimeout: opts.drainTimeout(),
		tls:          opts.TLS != nil,
		conn:         conn,
		rpc:          rpcpb.NewAutoscalerStateServiceClient(conn),
		node:         nodeinfopb.NewNodeInfoGcsServiceClient(conn),
	}, nil
}

// connBufferSize is the read and write buffer of each GCS connection.
const connBufferSize = 8 << 10

// windowSize is the HTTP/2 flow-control window of each GCS connection and
// stream. Setting it turns off gRPC's bandwidth-delay estimation, which
// otherwise pings the GCS along with replies to grow the window: the
// replies are small, and a cluster state of many MiB still arrives at
// 1 MiB per round trip.
const windowSize = 1 << 20

// passthrough makes gRPC hand the address to the dialer as it is: the
// connection is dialled once per head pod (a new head, a new connection),
// so gRPC's DNS resolver would only add a goroutine per connection and
// re-resolve on its own. The :authority stays the address (or
// Options.Authority).
const passthrough = "passthrough:///"

// dialOptions turns Options into gRPC dial options; cred, when non-nil,
// goes with every RPC.
func dialOptions(opts Options, cred credential) []grpc.DialOption {
	transport := insecure.NewCredentials()
	if opts.TLS != nil {
		transport = credentials.NewTLS(opts.TLS.Clone())
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		// No keep-alive: every call has a deadline (Options.Timeout,
		// Options.DrainTimeout) shorter than a keep-alive would take to find
		// a dead GCS, and the connection is dropped after a failed call;
		// keep-alive would cost a goroutine per connection.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		// One connection per Ray cluster: gRPC's default 32 KiB read and
		// write buffers are 128 MiB at 2,000 clusters, most of the scaler's
		// 206 MiB heap in bench/scalercap. The messages are small; the
		// write buffer is released between flushes.
		grpc.WithReadBufferSize(connBufferSize),
		grpc.WithWriteBufferSize(connBufferSize),
		grpc.WithSharedWriteBuffer(true),
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
	}
	if opts.Authority != "" {
		dialOpts = append(dialOpts, grpc.WithAuthority(opts.Authority))
	}
	// Chained in order, the first outermost: the observer sees the RPCs
	// authorize sends.
	var chain []grpc.UnaryClientInterceptor
	if cred != nil {
		chain = append(chain, authorize(cred))
	}
	if opts.Observe != nil {
		chain = append(chain, observe(opts.Observe))
	}
	if len(chain) > 0 {
		dialOpts = append(dialOpts, grpc.WithChainUnaryInterceptor(chain...))
	}
	return dialOpts
}

// waitReady starts connecting and waits until conn is ready or ctx ends.
func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return nil
		case connectivity.Shutdown:
			return errors.New("connection closed")
		}
		if !conn.WaitForStateChange(ctx, state) {
			return fmt.Errorf("not ready (last state %s): %w", state, ctx.Err())
		}
	}
}

// Addr returns the GCS address the client was dialled with.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection. RPCs in flight fail with codes.Canceled.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("gcs %s: close: %w", c.addr, err)
	}
	return nil
}

// String describes the client without revealing the token.
func (c *Client) String() string {
	return fmt.Sprintf("gcs.Client{Addr: %s, Timeout: %s, Auth: %s, TLS: %t}",
		c.addr, c.timeout, c.credential, c.tls)
}

// GoString is String, so that %#v does not reveal the token either.
func (c *Client) GoString() string { return c.String() }
