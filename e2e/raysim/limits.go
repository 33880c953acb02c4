package raysim

import "time"

// Bounds on what the HTTP control API accepts, so that a test (or a
// runaway loop in one) cannot make raysim grow without limit.
const (
	maxNameLen          = 253    // Kubernetes object names, actor and placement group names
	maxResourcesPerItem = 64     // resource names in one bundle
	maxBundles          = 1000   // bundles of one placement group
	maxTasksPerPost     = 100000 // tasks in one POST
	maxItemsPerCluster  = 200000 // actors, tasks and placement groups waiting or running
	maxSelectorKeys     = 32     // keys of one label selector
	maxLabelLen         = 253    // a label key or value in a selector
	maxDurationSeconds  = 86400  // a task's duration, a fault's length, a setting's duration
	maxSettingSeconds   = 3600   // the simulated delays of a cluster's settings
	maxRayVersionLen    = 64
	maxTokenLen         = 4096
	maxDrainFaults      = 1000 // nodes with a drain fault in one cluster
	maxFaultTimes       = 1000000
	maxClusters         = 10000 // clusters raysim keeps state for

	// Records kept per cluster, newest last; older entries are dropped.
	maxDrainCalls      = 1000
	maxPublishedErrors = 100
	maxCancelled       = 1000
)

// Ray's defaults that raysim's per-cluster settings start from.
const (
	// defaultRayVersion is what CheckAlive reports unless a test sets
	// another version.
	defaultRayVersion = "2.52.0"
	// defaultFirstReport is how long a new node goes without a load report:
	// the GCS polls every raylet's load every
	// gcs_pull_resource_loads_period_milliseconds, 1000 by default (Ray
	// src/ray/common/ray_config_def.h, commit 903341435409e81ebed5def11ebd99efba471666;
	// the poll is set up in src/ray/gcs/gcs_server.cc, InitGcsResourceManager,
	// commit b1be5318391b7edfbe01b7cd4c0acc080e4d0783).
	defaultFirstReport = time.Second
	// defaultDrainWindow is how long an accepted drain shows the node
	// DRAINING before an idle raylet is gone: the GCS only learns that a
	// node drains from its next load report (the same 1 s poll), and the
	// raylet's graceful shutdown and unregistration follow.
	defaultDrainWindow = time.Second
	// maxDeadNodes is how many dead nodes the GCS remembers:
	// maximum_gcs_dead_node_cached_count, 1000 (ray_config_def.h, as above).
	maxDeadNodes = 1000
)
