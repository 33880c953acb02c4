// Package gcs is a client for the autoscaler API of one Ray cluster's GCS
// (Global Control Service): the gRPC service
// ray.rpc.autoscaler.AutoscalerStateService, served on the GCS port of the
// Ray head (6379 by default; on KubeRay the head Service
// <raycluster>-head-svc) by Ray 2.7 and later.
//
// Dial connects, Probe checks that the GCS serves a compatible API, and
// GetClusterResourceState, ReportAutoscalingState and DrainNode wrap the
// RPCs a scaler needs. Every RPC is bounded by Options.Timeout, and
// Options.Observe, when set, is told of each request and how it ended
// (CallObserver), for metrics.
//
// Ray token authentication (Ray 2.52 and later): every RPC carries
// "authorization: Bearer <token>", the token being
//   - with AuthToken (RAY_AUTH_MODE=token), Ray's shared token,
//     Options.Token; TokenFromSecret reads it from the Secret that KubeRay
//     creates for spec.authOptions;
//   - with AuthKubernetes (RAY_ENABLE_K8S_TOKEN_AUTH=true), a Kubernetes
//     ServiceAccount token that Options.TokenSource gives before each RPC.
//     The GCS checks it with a TokenReview that names no audience, so it is
//     a token of the Kubernetes API, seen by whoever runs the head: the
//     source must give tokens of an identity that may do nothing else. The
//     scaler's source asks the TokenRequest API for short-lived tokens of a
//     dedicated ServiceAccount, never its own (docs/ray-auth.md); this
//     package holds no Kubernetes types.
//
// An RPC whose token cannot be had is not sent. Each RPC's token is removed
// from that RPC's error, and no token appears in errors or String output.
package gcs
