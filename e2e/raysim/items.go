package raysim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Kinds of demand.
const (
	kindActor = "actor"
	kindTask  = "task"
	kindPG    = "pg"
)

// Placement group states, as Ray names them
// (src/ray/protobuf/gcs.proto, PlacementGroupTableData.PlacementGroupState).
const (
	pgPending      = "PENDING"
	pgCreated      = "CREATED"
	pgRescheduling = "RESCHEDULING"
)

// item is a unit of demand: an actor, one task, or a placement group.
type item struct {
	kind      string
	name      string
	pgID      []byte // placement groups: the 18-byte PlacementGroupID
	bundles   []map[string]float64
	selectors []labelSelector // one per bundle; empty selects every node
	strategy  string          // placement groups only
	placedOn  []*node         // one per bundle once placed; nil entries are not placed
	created   time.Time
	duration  time.Duration // tasks: how long they run once placed
	endsAt    time.Time
	// wasCreated: every bundle was placed once; a lost bundle now makes the
	// group RESCHEDULING rather than PENDING.
	wasCreated bool
	// preempted: the GCS marked the actor preempted, as it does for every
	// actor on a node it forwards a drain to.
	preempted bool
	// retries counts how often a task was retried or an actor restarted
	// because its node died.
	retries int
	// demand groups equal tasks and actors: shape and label selector.
	demand string
}

// placed reports whether every bundle is placed.
func (it *item) placed() bool {
	if len(it.placedOn) != len(it.bundles) {
		return false
	}
	for _, n := range it.placedOn {
		if n == nil {
			return false
		}
	}
	return true
}

// onNode reports whether a bundle of it is placed on n.
func (it *item) onNode(n *node) bool { return slices.Contains(it.placedOn, n) }

// pgState is the placement group's state as the GCS reports it.
func (it *item) pgState() string {
	switch {
	case it.placed():
		return pgCreated
	case it.wasCreated:
		return pgRescheduling
	default:
		return pgPending
	}
}

// release frees every placed bundle.
func (it *item) release(now time.Time) {
	for i := range it.placedOn {
		it.unplaceBundle(i, now)
	}
	it.placedOn = nil
}

func (it *item) unplaceBundle(i int, now time.Time) {
	n := it.placedOn[i]
	if n == nil {
		return
	}
	add(n.avail, it.bundles[i])
	n.work--
	if n.work == 0 {
		n.idleSince = now
	}
	it.placedOn[i] = nil
}

// lose handles the death of node n: a task is retried and an actor
// restarted elsewhere (the whole item is pending again), a placement group
// loses only the bundles n held and is rescheduled (Ray's
// GcsPlacementGroupManager::OnNodeDead).
func (it *item) lose(n *node, now time.Time) {
	if !it.onNode(n) {
		return
	}
	if it.kind != kindPG {
		it.release(now)
		it.retries++
		return
	}
	for i, m := range it.placedOn {
		if m == n {
			it.unplaceBundle(i, now)
		}
	}
}

// placementGroupID derives a stable 18-byte PlacementGroupID (the size of
// Ray's, src/ray/common/id.h: 14 unique bytes and a 4-byte JobID) from the
// cluster and group names.
func placementGroupID(namespace, cluster, name string) []byte {
	sum := sha256.Sum256([]byte(namespace + "/" + cluster + "/" + name))
	return sum[:18]
}

func (it *item) pgHex() string { return hex.EncodeToString(it.pgID) }

func (c *cluster) addItem(it *item, now time.Time) error { return c.addItems([]*item{it}, now) }

// addItems adds demand atomically: a reader never sees part of a burst.
func (c *cluster) addItems(items []*item, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items)+len(items) > maxItemsPerCluster {
		return fmt.Errorf("a cluster holds at most %d actors, tasks and placement groups", maxItemsPerCluster)
	}
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
		if len(it.selectors) < len(it.bundles) {
			it.selectors = append(it.selectors, make([]labelSelector, len(it.bundles)-len(it.selectors))...)
		}
		if it.kind == kindPG {
			it.pgID = placementGroupID(c.namespace, c.name, it.name)
		} else {
			it.demand = shapeKey(it.bundles[0]) + "|" + it.selectors[0].key()
		}
		c.items = append(c.items, it)
	}
	c.placePending(now)
	return nil
}

func (c *cluster) removeItem(kind, name string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, it := range c.items {
		if it.kind == kind && it.name == name {
			it.release(now)
			c.items = append(c.items[:i], c.items[i+1:]...)
			c.placePending(now)
			return true
		}
	}
	return false
}
