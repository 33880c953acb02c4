package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// decider holds one Decide call: Ray's ScheduleContext plus the per-group pod
// bookkeeping that turns Ray's decisions into spec replicas.
type decider struct {
	c        Cluster
	s        State
	now      time.Time
	u        *universe
	groupIdx map[string]int
	groupRes []vec
	// nodes is Ray's context node list. Its order is part of the algorithm:
	// Ray breaks every tie by it, and each step reorders it the way Ray does.
	nodes []*snode
	// Per group: pods that count towards replicas, pods that hold a replica
	// without being schedulable (Ray node draining, or in a status the engine
	// does not know), live Ray nodes, and requested replicas without a pod
	// beyond maxPhantoms (held, not modelled as nodes).
	active, held, running, extra []int
	// offList are terminations of pods that are not scheduling nodes (dead
	// Ray node, allocation timeout).
	offList    []Termination
	infeasible Infeasible
	warnings   []string
	truncated  Truncation
	// work counts the steps of the bin packing; a trySchedule gives up once
	// it exceeds limit (0: no limit). See budget.go.
	work, limit int
	// budget is the round's budget; spent is what the constraint and
	// placement-group steps used of it.
	budget, spent int
	// pre are the classes of the context while schedulePrefix tries
	// prefixes of one batch (the context does not change in between).
	pre []class
	// Slabs the nodes' vectors are cut from (newSnode).
	fslab               []float64
	bslab               []bool
	nslab               []snode
	slabSize, nslabSize int
	// Scratch space reused by every trial placement, so that scoring a
	// candidate allocates nothing.
	scratch      slot
	scratchExtra []string
	tk           []took
}

func newDecider(c Cluster, s State, pods []Pod, now time.Time) *decider {
	d := &decider{c: c, s: s, now: now, groupIdx: make(map[string]int, len(c.Groups))}
	// A repeated group name (KubeRay only rejects it in its webhook) means
	// the first group: that is the one pods and Ray nodes are matched to.
	d.c.Groups = make([]Group, 0, len(c.Groups))
	for _, g := range c.Groups {
		if _, dup := d.groupIdx[g.Name]; !dup {
			d.groupIdx[g.Name] = len(d.c.Groups)
			d.c.Groups = append(d.c.Groups, g)
		}
	}
	c = d.c
	d.u = newUniverse(resourceNames(c, s))
	d.groupRes = make([]vec, len(c.Groups))
	for i, g := range c.Groups {
		d.groupRes[i] = d.u.vec(g.Resources)
	}
	n := len(c.Groups)
	d.active, d.held, d.running, d.extra = make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	d.buildNodes(pods)
	return d
}

// rank orders the Ray nodes that claim one pod: a pod whose Ray restarted has
// a DEAD node and a live one, and the live one is the truth.
func rank(s NodeStatus) int {
	switch {
	case s.alive():
		return 4
	case s == NodeDraining:
		return 3
	case !s.known():
		return 2
	}
	return 1
}

// maxPhantoms bounds the requested replicas without a pod that one Decide
// call models as scheduling nodes, so that a spec asking for billions of
// replicas costs bounded time and memory. Those beyond it still hold their
// replicas and count against every maximum, but take no demand.
const maxPhantoms = maxNewNodes

// buildNodes turns pods and Ray nodes into the initial context, as Ray's
// instance manager would see them on KubeRay: a pod with a live Ray node is
// RAY_RUNNING, a pod without one is ALLOCATED, a replica without a pod is
// REQUESTED, a draining node is RAY_STOPPING (not schedulable) and a dead one
// RAY_STOPPED (to terminate). Ray nodes with no pod are ignored like nodes
// unknown to the instance manager, except the head.
func (d *decider) buildNodes(pods []Pod) {
	type groupPod struct {
		g int
		p *Pod
	}
	var mine []groupPod
	seen := make(map[string]bool, len(pods))
	// Head pods are recognised by their node-type label (Pod.Head), never by
	// their group name: a worker group may be called "headgroup" too.
	headName, headIP := map[string]bool{}, map[string]bool{}
	for i := range pods {
		p := &pods[i]
		if p.Head {
			headName[p.Name] = true
			if p.IP != "" {
				headIP[p.IP] = true
			}
			continue
		}
		g, ok := d.groupIdx[p.Group]
		if !ok || p.Deleting || p.ListedForDeletion || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		mine = append(mine, groupPod{g, p})
	}
	// By group, then name. The scaler lists pods sorted by name already, so
	// that order is checked and kept, and the groups split out in one pass.
	if slices.IsSortedFunc(mine, func(a, b groupPod) int { return strings.Compare(a.p.Name, b.p.Name) }) {
		at := make([]int, len(d.c.Groups)+1)
		for _, gp := range mine {
			at[gp.g+1]++
		}
		for g := range d.c.Groups {
			at[g+1] += at[g]
		}
		byGroup := make([]groupPod, len(mine))
		for _, gp := range mine {
			byGroup[at[gp.g]] = gp
			at[gp.g]++
		}
		mine = byGroup
	} else {
		slices.SortFunc(mine, func(a, b groupPod) int {
			return cmp.Or(cmp.Compare(a.g, b.g), strings.Compare(a.p.Name, b.p.Name))
		})
	}
	byName := make(map[string]*Pod, len(mine))
	byIP := map[string]*Pod{}
	for _, gp := range mine {
		p := gp.p
		byName[p.Name] = p
		if p.IP != "" {
			if _, dup := byIP[p.IP]; !dup {
				byIP[p.IP] = p
			}
		}
	}

	order := make([]int, len(d.s.Nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(d.s.Nodes[a].ID, d.s.Nodes[b].ID) })
	best := make(map[*Pod]*Node, len(mine))
	var heads []*snode
	for _, i := range order {
		n := &d.s.Nodes[i]
		if n.IsHead() || headName[n.InstanceID] || n.InstanceID == "" && headIP[n.IP] {
			switch {
			case n.Status.alive():
				heads = append(heads, d.liveNode(n, nil))
			case !n.Status.known():
				d.warn("the head's Ray node %s has status %s, which the scaler does not know; it takes no demand", short(n.ID), n.Status)
			}
			continue
		}
		p := byName[n.InstanceID]
		if n.InstanceID == "" {
			p = byIP[n.IP]
		}
		if p == nil {
			continue
		}
		if b := best[p]; b == nil || rank(n.Status) > rank(b.Status) {
			best[p] = n
		}
	}

	d.nodes = heads
	next, phantoms := 0, 0
	for g := range d.c.Groups {
		for ; next < len(mine) && mine[next].g == g; next++ {
			d.addPod(g, mine[next].p, best[mine[next].p])
		}
		grp := d.c.Groups[g]
		want := max(addSat(mulSat(grp.clampReplicas(grp.Replicas), grp.Hosts()), -d.active[g]), 0)
		modelled := min(want, max(maxPhantoms-phantoms, 0))
		for range modelled {
			d.nodes = append(d.nodes, d.fresh(g, kindPhantom))
		}
		phantoms += modelled
		if d.extra[g] = want - modelled; d.extra[g] > 0 {
			d.truncated.Replicas = addSat(d.truncated.Replicas, d.extra[g])
		}
	}
}

// addPod files one active pod of group g.
func (d *decider) addPod(g int, p *Pod, n *Node) {
	d.active[g]++
	switch {
	case n != nil && n.Status.alive():
		d.running[g]++
		d.nodes = append(d.nodes, d.liveNode(n, p))
	case n != nil && n.Status == NodeDraining:
		d.held[g]++
	case n != nil && !n.Status.known():
		// Ray's reconciler makes no transition for a status it cannot map;
		// leave the pod as it is: it keeps its replica and is never removed.
		d.held[g]++
		d.warn("pod %s (group %s): Ray node %s has status %s, which the scaler does not know; left alone (counted, never terminated)",
			p.Name, p.Group, short(n.ID), n.Status)
	case n != nil:
		d.offList = append(d.offList, Termination{
			Pod: p.Name, Group: p.Group, NodeID: n.ID, Cause: CauseRayStopped,
			Reason: fmt.Sprintf("Ray node %s is DEAD", short(n.ID)),
		})
	case d.allocationTimedOut(p):
		d.offList = append(d.offList, Termination{
			Pod: p.Name, Group: p.Group, Cause: CauseAllocationTimeout,
			Reason: fmt.Sprintf("no Ray node after %s (%s); replacing the pod", d.now.Sub(p.Created).Round(time.Second), podPhase(p)),
		})
	default:
		sn := d.fresh(g, kindPending)
		sn.pod = p
		d.nodes = append(d.nodes, sn)
	}
}

func (d *decider) allocationTimedOut(p *Pod) bool {
	t := d.c.allocateTimeout()
	return t > 0 && !p.Created.IsZero() && d.now.Sub(p.Created) > t
}

func podPhase(p *Pod) string {
	if p.Running {
		return "pod running"
	}
	return "pod not running"
}

// liveNode builds the scheduling node of a live Ray node; p is its pod (nil
// for the head). The head belongs to no worker group, whatever its type name:
// it never counts towards a group's workers.
func (d *decider) liveNode(n *Node, p *Pod) *snode {
	g, typ := -1, n.Type
	if p != nil {
		g, typ = d.groupIdx[p.Group], p.Group
	}
	sn, total, avail := d.newSnode(g, typ, kindRunning, n.Labels)
	d.u.fill(total, n.Total)
	d.u.fill(avail, n.Available)
	sn.seal()
	if len(sn.totalIdx) < len(n.Total) {
		sn.fixed = d.u.fixed(n.Total, n.Available)
	}
	sn.head = p == nil
	sn.pod = p
	sn.nodeID = n.ID
	sn.idle = n.Idle
	sn.avail = 1
	if g >= 0 {
		sn.avail = d.c.Groups[g].availability()
	}
	return sn
}

// warn records something the plan deliberately left alone.
func (d *decider) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// short abbreviates a 56-character hex node id for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
