package engine

import "time"

// DefaultIdleTimeout is the idle timeout of a KubeRay cluster whose
// autoscalerOptions.idleTimeoutSeconds is unset: Ray's KubeRay config reader
// falls back to idle_timeout_minutes = 1.0.
const DefaultIdleTimeout = 60 * time.Second

// DefaultMaxConcurrentLaunches mirrors Ray's AUTOSCALER_MAX_CONCURRENT_LAUNCHES:
// at most this many workers may be requested but not yet created at once.
const DefaultMaxConcurrentLaunches = 10

// DefaultAllocateTimeout mirrors v2's allocate_status_timeout_s: a pod whose
// Ray node has not registered after this long is given up on (the
// ALLOCATION_TIMEOUT path of the instance manager).
const DefaultAllocateTimeout = 300 * time.Second

// Upscaling speeds Ray's KubeRay config reader derives from
// autoscalerOptions.upscalingMode.
const (
	// ConservativeUpscalingSpeed is upscalingMode Conservative: per loop at most
	// as many new workers of a group as it has running.
	ConservativeUpscalingSpeed = 1.0
	// DefaultUpscalingSpeed is upscalingMode Default, Aggressive or unset:
	// effectively only DefaultMaxConcurrentLaunches limits the rate.
	DefaultUpscalingSpeed = 1000.0
)

// UpscalingSpeedFor maps a RayCluster's autoscalerOptions.upscalingMode to
// Ray's upscaling_speed exactly as the KubeRay config reader does: only
// "Conservative" slows scaling down; every other value (including unknown
// ones) means 1000.
func UpscalingSpeedFor(mode string) float64 {
	if mode == "Conservative" {
		return ConservativeUpscalingSpeed
	}
	return DefaultUpscalingSpeed
}

// Cluster is what the engine knows about one RayCluster's configuration.
// Fields hold effective values: NodeTypesFromRayCluster applies KubeRay's
// defaults, a hand-built Cluster gets exactly what it says (except where a
// field documents its zero value).
type Cluster struct {
	// Groups are the worker groups in RayCluster order. The order matters: Ray
	// breaks scoring ties by configuration order.
	Groups []Group
	// IdleTimeout is the cluster-wide idle timeout (autoscalerOptions.
	// idleTimeoutSeconds). A worker idle for strictly longer is terminated.
	IdleTimeout time.Duration
	// UpscalingSpeed is Ray's upscaling_speed (see UpscalingSpeedFor).
	UpscalingSpeed float64
	// MaxWorkers caps the number of worker nodes of the cluster (raypilot's
	// policy limits.maxWorkersPerCluster). 0 means no cap beyond the groups'
	// own maxima. Ray's max_num_nodes counts the head as well; this counts
	// workers only, which is the same cap.
	MaxWorkers int
	// MaxConcurrentLaunches bounds the workers requested but not yet created.
	// 0 means DefaultMaxConcurrentLaunches.
	MaxConcurrentLaunches int
	// AllocateTimeout is how long a worker pod may exist without its Ray node
	// registering before it is replaced. 0 means DefaultAllocateTimeout, a
	// negative value disables the check.
	AllocateTimeout time.Duration
	// SpendGPUNodesOnCPUWork turns off GPU avoidance, like Ray's
	// AUTOSCALER_CONSERVE_GPU_NODES=0. By default work that asks for no GPU is
	// kept off GPU nodes whenever another node can take it.
	SpendGPUNodesOnCPUWork bool
}

// Group is one worker group (a Ray node type).
type Group struct {
	// Name is workerGroupSpecs[].groupName, which is also the Ray node type
	// name (RAY_NODE_TYPE_NAME) and the pods' ray.io/group label.
	Name string
	// Resources are the Ray resources one worker of the group advertises
	// (CPU, GPU, memory, TPU, custom), as Ray's KubeRay config reader derives
	// them.
	Resources map[string]float64
	// Labels are the Ray node labels of the group's workers.
	Labels map[string]string
	// MinReplicas and MaxReplicas are the spec bounds, in replicas.
	MinReplicas, MaxReplicas int
	// NumOfHosts is the number of pods (Ray nodes) per replica; 0 means 1.
	NumOfHosts int
	// Replicas is the current spec replicas. KubeRay treats an absent value
	// as MinReplicas, and so does NodeTypesFromRayCluster.
	Replicas int
	// IdleTimeout overrides Cluster.IdleTimeout for this group when set
	// (workerGroupSpecs[].idleTimeoutSeconds).
	IdleTimeout *time.Duration
	// Availability is the v2 cloud availability score of the group in [0, 1]
	// (nil means 1.0). It only breaks ties between equally good node types.
	Availability *float64
}

// Hosts returns the pods per replica, at least 1.
func (g Group) Hosts() int {
	return max(g.NumOfHosts, 1)
}

// MinWorkers returns Ray's min_workers for the group: minReplicas ×
// numOfHosts.
func (g Group) MinWorkers() int {
	return mulSat(g.MinReplicas, g.Hosts())
}

// MaxWorkers returns Ray's max_workers for the group: maxReplicas ×
// numOfHosts.
func (g Group) MaxWorkers() int {
	return mulSat(g.MaxReplicas, g.Hosts())
}

// clampReplicas applies KubeRay's GetWorkerGroupDesiredReplicas rule: max wins
// over min, an out-of-range value is pulled into [min, max].
func (g Group) clampReplicas(r int) int {
	lo, hi := max(g.MinReplicas, 0), max(g.MaxReplicas, 0)
	if lo > hi {
		return hi
	}
	return min(max(r, lo), hi)
}

func (g Group) availability() float64 {
	if g.Availability == nil {
		return 1
	}
	return *g.Availability
}

func (c Cluster) maxConcurrentLaunches() int {
	if c.MaxConcurrentLaunches <= 0 {
		return DefaultMaxConcurrentLaunches
	}
	return c.MaxConcurrentLaunches
}

func (c Cluster) allocateTimeout() time.Duration {
	if c.AllocateTimeout == 0 {
		return DefaultAllocateTimeout
	}
	return c.AllocateTimeout
}

// idleTimeout returns the timeout that applies to group g: the group's own
// when set, else the cluster's.
func (c Cluster) idleTimeout(g *Group) time.Duration {
	if g != nil && g.IdleTimeout != nil {
		return *g.IdleTimeout
	}
	return c.IdleTimeout
}
