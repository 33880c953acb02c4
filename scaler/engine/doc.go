// Package engine is raypilot's pure autoscaling decision engine. It decides
// the way Ray's autoscaler v2 (ResourceDemandScheduler plus the reconciler's
// launch rate limit) decides for a KubeRay cluster, so that one central scaler
// can replace the per-cluster autoscaler sidecar without users noticing a
// difference in behaviour.
//
// Decide takes the cluster's worker groups (Cluster, usually derived from the
// RayCluster by NodeTypesFromRayCluster), the Ray GCS view (State: nodes,
// pending requests, placement groups, request_resources constraints), the
// cluster's pods and the current time, and returns a Plan: how many workers to
// launch per group, which pods to remove and why, the spec replicas to write,
// what cannot be satisfied, and one human-readable line per decision.
//
// The package does no I/O, reads no clock, starts no goroutines and keeps no
// global mutable state: the GCS client, the Kubernetes reads, DrainNode calls
// and the RayCluster patch live in the layers that call it. The same input
// always gives the same Plan, whatever order the nodes, pods and pending
// requests come in (placement groups keep their order: the GCS lists them in
// queue order, and Ray breaks ties by it).
package engine
