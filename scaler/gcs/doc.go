// Package gcs is a client for the autoscaler API of one Ray cluster's GCS
// (Global Control Service): the gRPC service
// ray.rpc.autoscaler.AutoscalerStateService, served on the GCS port of the
// Ray head (6379 by default; on KubeRay the head Service
// <raycluster>-head-svc) by Ray 2.7 and later.
//
// Dial connects, Probe checks that the GCS serves a compatible API, and
// GetClusterResourceState, ReportAutoscalingState and DrainNode wrap the
// RPCs a scaler needs. Every RPC is bounded by Options.Timeout. When the
// cluster runs with Ray token authentication (RAY_AUTH_MODE=token, Ray
// 2.52 and later), set Options.Token; TokenFromSecret reads it from the
// Secret that KubeRay creates for spec.authOptions.
package gcs
