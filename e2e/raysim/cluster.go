package raysim

import (
	"crypto/sha256"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// node is one simulated raylet.
type node struct {
	id       []byte
	pod      string
	podUID   types.UID
	group    string
	ip       string
	instType string // RAY_CLOUD_INSTANCE_TYPE_NAME
	labels   map[string]string
	total    map[string]float64
	avail    map[string]float64
	work     int // bundles of actors, tasks and placement groups placed on it
	// firstReport is when the GCS first polls the raylet's load: until
	// then it knows only what the node registered with.
	firstReport time.Time
	idleSince   time.Time
	drain       *drainState // set once a drain was accepted
	dead        bool
	diedAt      time.Time
	death       string // why the raylet exited
}

func (n *node) idle() bool { return n.work == 0 && !n.dead }

// draining reports whether the raylet accepted a drain: it takes no new
// work (Ray: LocalResourceManager::SetLocalNodeDraining).
func (n *node) draining() bool { return n.drain != nil }

// reported reports whether the GCS has had the node's first load report.
func (n *node) reported(now time.Time) bool { return !now.Before(n.firstReport) }

// settings are what a test may change per cluster through the control API.
type settings struct {
	// RayVersion is what NodeInfoGcsService.CheckAlive reports: set by a
	// test (versionSet), else the head image's Ray version.
	RayVersion string
	versionSet bool
	// FirstReport is how long a new node goes without a load report.
	FirstReport time.Duration
	// DrainWindow is the least time an accepted drain shows DRAINING.
	DrainWindow time.Duration
	// InfeasibleEarlyExit is Ray's enable_infeasible_task_early_exit.
	InfeasibleEarlyExit bool
}

func defaultSettings() settings {
	return settings{RayVersion: defaultRayVersion, FirstReport: defaultFirstReport, DrainWindow: defaultDrainWindow}
}

// cluster is the simulated GCS state of one RayCluster.
type cluster struct {
	mu        sync.Mutex
	namespace string
	name      string
	session   string
	settings  settings
	nodes     map[string]*node   // live raylets, by pod name
	dead      []*node            // raylets that exited, oldest first (at most maxDeadNodes)
	exited    map[types.UID]bool // Running pods whose raylet exited: no new node for them
	items     []*item            // in arrival order
	// stateVersion is the GCS's cluster_resource_state version, incremented
	// by every GetClusterResourceState and GetClusterStatus.
	stateVersion int64
	reported     *rpcpb.AutoscalingState // the cached ReportAutoscalingState
	reportedAt   time.Time
	constraint   *rpcpb.ClusterResourceConstraint // the last RequestClusterResourceConstraint
	config       *rpcpb.ClusterConfig             // the last ReportClusterConfig
	stats        gcsStats
	headUID      types.UID // the head pod the GCS runs in
	auth         authState
	drainFaults  map[string]*drainFault // by pod name
	drainCalls   []drainCall
	rayPods      []rayPod       // the Running Ray pods, for the dashboard proxy
	serve        *serveInstance // nil until a Serve config is deployed
}

func newCluster(namespace, name string) *cluster {
	return &cluster{namespace: namespace, name: name, session: "session_raysim_" + name, settings: defaultSettings(),
		nodes: map[string]*node{}, exited: map[types.UID]bool{}, drainFaults: map[string]*drainFault{}}
}

// nodeID is the 28-byte Ray NodeID raysim gives the raylet of a pod.
func nodeID(uid string) []byte {
	sum := sha256.Sum256([]byte(uid))
	return sum[:28]
}

// syncPods makes the nodes match the Running Ray pods: a new pod's raylet
// registers, a gone pod's raylet is dead and its work pending again.
func (c *cluster) syncPods(pods []*corev1.Pod, secrets secretSource, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	uids := map[types.UID]bool{}
	var head *corev1.Pod
	c.rayPods = c.rayPods[:0]
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		seen[p.Name] = true
		uids[p.UID] = true
		c.rayPods = append(c.rayPods, rayPodOf(p))
		if p.Labels["ray.io/node-type"] == "head" {
			head = p
		}
		if n, ok := c.nodes[p.Name]; ok {
			if n.podUID == p.UID {
				continue
			}
			c.kill(n, now, "its pod was replaced")
		}
		if c.exited[p.UID] {
			continue
		}
		c.nodes[p.Name] = c.newNode(p, secrets, now)
	}
	for name, n := range c.nodes {
		if !seen[name] {
			c.kill(n, now, "its pod is gone")
		}
	}
	for uid := range c.exited {
		if !uids[uid] {
			delete(c.exited, uid)
		}
	}
	if head != nil && head.UID != c.headUID {
		if c.headUID != "" {
			// A new head pod runs a new GCS (KubeRay clusters run without GCS
			// fault tolerance unless configured): it knows nothing of the old
			// one's dead nodes, counter or cached reports.
			c.restartGCS()
			c.dead = nil
		}
		c.headUID = head.UID
		if !c.settings.versionSet {
			// A GCS reports the version it was built as: the head image's.
			c.settings.RayVersion = defaultRayVersion
			if v := imageRayVersion(head); v != "" {
				c.settings.RayVersion = v
			}
		}
	}
	c.auth.sync(head, secrets)
	c.advance(now)
}

func (c *cluster) newNode(p *corev1.Pod, secrets secretSource, now time.Time) *node {
	id := nodeID(string(p.UID))
	total := podResources(p)
	return &node{id: id, pod: p.Name, podUID: p.UID, group: nodeTypeName(p, secrets), ip: p.Status.PodIP,
		instType: env(p, "RAY_CLOUD_INSTANCE_TYPE_NAME", secrets), labels: nodeLabels(p, id, secrets),
		total: total, avail: clone(total), firstReport: now.Add(c.settings.FirstReport), idleSince: now}
}

// kill ends the raylet of n: the node is DEAD, remembered among the dead
// nodes, and what ran on it is pending again (tasks are retried, actors
// restarted, the bundles of placement groups rescheduled). c.mu held.
func (c *cluster) kill(n *node, now time.Time, why string) {
	if n.dead {
		return
	}
	n.dead, n.diedAt, n.death, n.drain = true, now, why, nil
	delete(c.nodes, n.pod)
	c.exited[n.podUID] = true
	c.dead = append(c.dead, n)
	if len(c.dead) > maxDeadNodes {
		c.dead = append([]*node(nil), c.dead[len(c.dead)-maxDeadNodes:]...)
	}
	for _, it := range c.items {
		it.lose(n, now)
	}
}

// nodeByID finds a live node by binary NodeID; c.mu held.
func (c *cluster) nodeByID(id []byte) *node {
	for _, n := range c.nodes {
		if string(n.id) == string(id) {
			return n
		}
	}
	return nil
}

// isDead reports whether the GCS remembers the node as dead; c.mu held.
func (c *cluster) isDead(id []byte) bool {
	for _, n := range c.dead {
		if string(n.id) == string(id) {
			return true
		}
	}
	return false
}

// liveNodes returns the live nodes by pod name; c.mu held.
func (c *cluster) liveNodes() []*node {
	out := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pod < out[j].pod })
	return out
}

// schedulable returns the nodes new work may go to: live and not
// draining; c.mu held.
func (c *cluster) schedulable() []*node {
	var out []*node
	for _, n := range c.liveNodes() {
		if !n.draining() {
			out = append(out, n)
		}
	}
	return out
}

// advance brings the cluster to now: finished tasks end, drained nodes
// exit, and pending work is placed; c.mu held.
func (c *cluster) advance(now time.Time) {
	kept := c.items[:0]
	for _, it := range c.items {
		if it.kind == kindTask && it.placed() && !now.Before(it.endsAt) {
			it.release(now)
			continue
		}
		kept = append(kept, it)
	}
	clear(c.items[len(kept):])
	c.items = kept
	c.finishDrains(now)
	c.placePending(now)
}

// tick advances the cluster to now.
func (c *cluster) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(now)
}
