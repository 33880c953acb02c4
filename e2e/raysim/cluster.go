package raysim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// node is one simulated raylet.
type node struct {
	id        []byte
	pod       string
	group     string
	ip        string
	total     map[string]float64
	avail     map[string]float64
	work      int // items placed on it
	idleSince time.Time
	dead      bool
}

func (n *node) idle() bool { return n.work == 0 && !n.dead }

// item is a unit of demand: an actor, one task, or a placement group.
type item struct {
	kind     string // "actor", "task", "pg"
	name     string
	bundles  []map[string]float64
	strategy string // placement groups only
	placedOn []*node
	created  time.Time
	duration time.Duration // tasks: how long they run once placed
	endsAt   time.Time
}

func (it *item) placed() bool { return it.placedOn != nil }

// cluster is the simulated GCS state of one RayCluster.
type cluster struct {
	mu         sync.Mutex
	namespace  string
	name       string
	session    string
	nodes      map[string]*node // by pod name
	deadPods   map[string]bool  // pods whose raylet was drained and exited
	items      []*item          // in arrival order
	version    int64
	reported   *rpcpb.AutoscalingState
	reportedAt time.Time
	rayPods    []rayPod       // the Running Ray pods, for the dashboard proxy
	serve      *serveInstance // nil until a Serve config is deployed
}

func newCluster(namespace, name string) *cluster {
	return &cluster{namespace: namespace, name: name, session: "session_raysim_" + name,
		nodes: map[string]*node{}, deadPods: map[string]bool{}}
}

func nodeID(uid string) []byte {
	sum := sha256.Sum256([]byte(uid))
	return sum[:28]
}

// syncPods makes the nodes match the running Ray pods; work on a node whose
// pod went away becomes pending again.
func (c *cluster) syncPods(pods []*corev1.Pod, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	c.rayPods = c.rayPods[:0]
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		seen[p.Name] = true
		c.rayPods = append(c.rayPods, rayPodOf(p))
		if _, ok := c.nodes[p.Name]; ok {
			continue
		}
		group := p.Labels["ray.io/group"]
		total := podResources(p)
		c.nodes[p.Name] = &node{id: nodeID(string(p.UID)), pod: p.Name, group: group, ip: p.Status.PodIP,
			total: total, avail: clone(total), idleSince: now, dead: c.deadPods[p.Name]}
		c.version++
	}
	for name, n := range c.nodes {
		if seen[name] {
			continue
		}
		for _, it := range c.items {
			if slices.Contains(it.placedOn, n) {
				c.unplace(it, now)
			}
		}
		delete(c.nodes, name)
		c.version++
	}
	for name := range c.deadPods {
		if !seen[name] {
			delete(c.deadPods, name)
		}
	}
	c.placePending(now)
}

func (c *cluster) unplace(it *item, now time.Time) {
	for i, n := range it.placedOn {
		add(n.avail, it.bundles[i])
		n.work--
		if n.work == 0 {
			n.idleSince = now
		}
	}
	it.placedOn = nil
}

// sortedNodes returns the live nodes in a stable order.
func (c *cluster) sortedNodes() []*node {
	var out []*node
	for _, n := range c.nodes {
		if !n.dead {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pod < out[j].pod })
	return out
}

// placePending places what fits, oldest first; a placement group is all or
// nothing.
func (c *cluster) placePending(now time.Time) {
	for _, it := range c.items {
		if it.placed() {
			continue
		}
		if targets := c.fit(it); targets != nil {
			for i, n := range targets {
				subtract(n.avail, it.bundles[i])
				n.work++
			}
			it.placedOn = targets
			if it.kind == "task" {
				it.endsAt = now.Add(it.duration)
			}
			c.version++
		}
	}
}

// fit chooses a node per bundle honouring the strategy, or nil.
func (c *cluster) fit(it *item) []*node {
	nodes := c.sortedNodes()
	avail := map[*node]map[string]float64{}
	for _, n := range nodes {
		avail[n] = clone(n.avail)
	}
	switch it.strategy {
	case "STRICT_PACK":
		need := sum(it.bundles)
		for _, n := range nodes {
			if fits(need, avail[n]) {
				out := make([]*node, len(it.bundles))
				for i := range out {
					out[i] = n
				}
				return out
			}
		}
		return nil
	case "PACK":
		if out := c.fit(&item{bundles: it.bundles, strategy: "STRICT_PACK"}); out != nil {
			return out
		}
	}
	out := make([]*node, len(it.bundles))
	used := map[*node]bool{}
	for i, b := range it.bundles {
		var pick *node
		for _, n := range nodes {
			if !fits(b, avail[n]) {
				continue
			}
			if used[n] && (it.strategy == "STRICT_SPREAD" || it.strategy == "SPREAD") {
				if pick == nil && it.strategy == "SPREAD" {
					pick = n // a shared node only when no fresh one fits
				}
				continue
			}
			pick = n
			break
		}
		if pick == nil {
			return nil
		}
		subtract(avail[pick], b)
		used[pick] = true
		out[i] = pick
	}
	return out
}

// tick ends finished tasks and places what now fits.
func (c *cluster) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.items[:0]
	for _, it := range c.items {
		if it.kind == "task" && it.placed() && !now.Before(it.endsAt) {
			c.unplace(it, now)
			c.version++
			continue
		}
		kept = append(kept, it)
	}
	c.items = kept
	c.placePending(now)
}

func (c *cluster) addItem(it *item, now time.Time) error { return c.addItems([]*item{it}, now) }

// addItems adds demand atomically: a reader never sees part of a burst.
func (c *cluster) addItems(items []*item, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if it.name == "" {
			continue
		}
		for _, other := range c.items {
			if other.kind == it.kind && other.name == it.name {
				return fmt.Errorf("%s %q already exists", it.kind, it.name)
			}
		}
	}
	for _, it := range items {
		it.created = now
		c.items = append(c.items, it)
	}
	c.version++
	c.placePending(now)
	return nil
}

func (c *cluster) removeItem(kind, name string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, it := range c.items {
		if it.kind == kind && it.name == name {
			if it.placed() {
				c.unplace(it, now)
			}
			c.items = append(c.items[:i], c.items[i+1:]...)
			c.version++
			c.placePending(now)
			return true
		}
	}
	return false
}

// drain answers DrainNode like a raylet: an idle node accepts an
// IDLE_TERMINATION drain and exits (its node goes DEAD); a busy one refuses.
func (c *cluster) drain(id []byte, reason rpcpb.DrainNodeReason) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if string(n.id) != string(id) {
			continue
		}
		if n.dead {
			return true, ""
		}
		if reason == rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION && !n.idle() {
			return false, fmt.Sprintf("The node %s is not idle: %d tasks, actors or bundles run on it", hex.EncodeToString(n.id), n.work)
		}
		n.dead = true
		c.deadPods[n.pod] = true
		c.version++
		return true, ""
	}
	// Ray accepts draining a node it does not know (it is already gone).
	return true, ""
}
