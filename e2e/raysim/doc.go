// Package raysim plays the Ray GCS for clusters on the local control plane,
// where Ray itself cannot run. For every RayCluster it builds a Ray node per
// running Ray pod (with the resources Ray would advertise), places demand
// posted through an HTTP control API (actors, tasks, placement groups),
// tracks idleness, answers DrainNode like a raylet, and serves Ray's real
// gRPC API ray.rpc.autoscaler.AutoscalerStateService.
//
// One gRPC listener serves every cluster: a request's :authority names the
// cluster the way a production client would address it,
// "<cluster>-head-svc.<namespace>.svc:6379".
//
// DashboardProxy answers, as an HTTP forward proxy, what KubeRay's RayService
// controller asks of the Ray dashboard (the Serve applications API) and of
// each pod's Serve proxy (/-/healthz); see dashboard.go.
package raysim
