// Package raysim plays the Ray GCS and raylets for clusters on the local
// control plane, where Ray itself cannot run. For every RayCluster it builds
// a Ray node per running Ray pod (with the resources and labels Ray would
// advertise), places demand posted through an HTTP control API (actors,
// tasks, placement groups, with Ray's label selectors), tracks idleness,
// drains nodes as the raylet does, and serves Ray's real gRPC API:
// ray.rpc.autoscaler.AutoscalerStateService and the NodeInfoGcsService calls
// CheckAlive and DrainNode.
//
// One gRPC listener serves every cluster: a request's :authority names the
// cluster the way a production client would address it,
// "<cluster>-head-svc.<namespace>.svc:6379".
//
// What raysim does as Ray does (each file cites the Ray source it follows):
//
//   - Drains (drain.go, gcs_autoscaler.go). An accepted DrainNode makes the
//     node DRAINING: it takes no new work and keeps what runs. It is DEAD
//     once idle and past the drain window (1 s by default, the GCS's load
//     poll), or at the request's deadline at the latest, when its work is
//     rescheduled. IDLE_TERMINATION of a busy node is rejected with Ray's
//     "The node to be idle terminated is no longer idle."; PREEMPTION is
//     always accepted; UNSPECIFIED aborts the raylet (ABORTED "RpcError", the
//     node dies). Before asking the raylet, the GCS marks the node's actors
//     preempted, whatever the reason. A negative deadline fails ABORTED
//     "Invalid" (Ray's Invalid status through RayStatusToGrpcStatus). An
//     unknown or dead node is accepted.
//   - Node states (state.go). A new node is RUNNING, with all of its
//     resources available, until its first load report (1 s by default);
//     then IDLE with idle_duration_ms while idle. DEAD nodes stay listed
//     (the GCS remembers 1000) with only their identity fields, until a new
//     head pod starts a new GCS, which also restarts the state version. Nodes carry
//     their Ray labels (ray.io/node-id, ray.io/node-group and the others Ray
//     derives from the pod, --labels, RAY_OVERRIDE_LABELS) and "_PG_<id>"
//     dynamic labels for the placement groups placed on them.
//   - Demand (state.go, placement.go). Pending tasks and actors are grouped
//     by shape and label selector; placement groups are reported with
//     legacy requests (no selectors), bundle_selectors (with them),
//     affinity or anti-affinity constraints and "<id>:<STRATEGY>|<STATE>"
//     details; a group that lost a node is RESCHEDULING with only its lost
//     bundles. Work only lands on nodes its selectors match.
//   - The state version (gcs_autoscaler.go). Every GetClusterResourceState
//     and GetClusterStatus increments it; a request whose last seen version
//     exceeds it would abort the GCS: it fails UNAVAILABLE, the counter
//     restarts at 0 and the event is counted.
//   - Reports (reports.go). Outdated ReportAutoscalingState calls are
//     discarded; a report that grows the infeasible requests publishes an
//     error; with enable_infeasible_task_early_exit the queued work of a
//     reported infeasible shape is cancelled.
//   - Token auth (auth.go). A head whose Ray container runs with
//     RAY_AUTH_MODE=token (any case) requires "authorization: Bearer <token>"
//     on every call of both services, else UNAUTHENTICATED
//     "InvalidAuthToken: ...". The token is read as Ray reads it:
//     RAY_AUTH_TOKEN (a value, a secretKeyRef, an envFrom Secret), else the
//     first line of the file RAY_AUTH_TOKEN_PATH names, through the
//     container's volume mounts to a Secret volume. With the mode unset, a
//     cluster whose Ray version is 2.59 or later is in token mode when a
//     token is available. Token mode without a readable token is a GCS that
//     never started: UNAVAILABLE.
//   - NodeInfoGcsService (gcs_nodeinfo.go). CheckAlive reports the cluster's
//     Ray version (2.52.0 unless set); the legacy DrainNode stops Ray on the
//     listed nodes whatever runs there and acknowledges every listed node.
//
// For tests (control.go lists the HTTP endpoints): per-cluster settings
// (Ray version, first-report delay, drain window, infeasible early exit), a
// token override, faults making a cluster's GCS unreachable (faults.go),
// drain faults making DrainNode fail for chosen nodes with ABORTED, UNKNOWN
// or no answer before the deadline (drainfaults.go), and records of every
// DrainNode, published error, cancelled request and version-check failure.
//
// Not simulated: the 1 s lag of demand and of DRAINING behind the raylets'
// load reports (demand and drains show at once), the resources Ray adds for
// placed bundles (CPU_group_...), the GCS being down while the head pod is
// not running, accelerator labels probed from hardware, and the rest of
// Ray's APIs.
//
// DashboardProxy answers, as an HTTP forward proxy, what KubeRay's RayService
// controller asks of the Ray dashboard (the Serve applications API) and of
// each pod's Serve proxy (/-/healthz); see dashboard.go.
package raysim
