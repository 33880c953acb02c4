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
	// without being schedulable (Ray node draining), live Ray nodes.
	active, draining, running []int
	// offList are terminations of pods that are not scheduling nodes (dead
	// Ray node, allocation timeout).
	offList    []Termination
	infeasible Infeasible
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
	d.active, d.draining, d.running = make([]int, n), make([]int, n), make([]int, n)
	d.buildNodes(pods)
	return d
}

// resourceNames collects every resource name of the input.
func resourceNames(c Cluster, s State) map[string]struct{} {
	names := map[string]struct{}{}
	add := func(m map[string]float64) {
		for k := range m {
			names[k] = struct{}{}
		}
	}
	for _, g := range c.Groups {
		add(g.Resources)
	}
	for _, n := range s.Nodes {
		add(n.Total)
		add(n.Available)
	}
	for _, p := range s.Pending {
		add(p.Resources)
	}
	for _, g := range s.Gangs {
		for _, b := range g.Bundles {
			add(b.Resources)
		}
	}
	for _, k := range s.Constraints {
		for _, b := range k.Bundles {
			add(b.Resources)
		}
	}
	return names
}

// rank orders the Ray nodes that claim one pod: a pod whose Ray restarted has
// a DEAD node and a live one, and the live one is the truth.
func rank(s NodeStatus) int {
	switch {
	case s.alive():
		return 3
	case s == NodeDraining:
		return 2
	}
	return 1
}

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
	for i := range pods {
		p := &pods[i]
		g, ok := d.groupIdx[p.Group]
		if !ok || p.Deleting || p.ListedForDeletion || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		mine = append(mine, groupPod{g, p})
	}
	slices.SortFunc(mine, func(a, b groupPod) int {
		return cmp.Or(cmp.Compare(a.g, b.g), strings.Compare(a.p.Name, b.p.Name))
	})
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

	nodes := slices.Clone(d.s.Nodes)
	slices.SortStableFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	best := map[*Pod]*Node{}
	var heads []*snode
	for i := range nodes {
		n := &nodes[i]
		if n.IsHead() {
			if n.Status.alive() {
				heads = append(heads, d.liveNode(n, nil))
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
	next := 0
	for g := range d.c.Groups {
		for ; next < len(mine) && mine[next].g == g; next++ {
			d.addPod(g, mine[next].p, best[mine[next].p])
		}
		grp := d.c.Groups[g]
		phantom := grp.clampReplicas(grp.Replicas)*grp.Hosts() - d.active[g]
		for range max(phantom, 0) {
			d.nodes = append(d.nodes, d.fresh(g, kindPhantom))
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
		d.draining[g]++
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
// for the head).
func (d *decider) liveNode(n *Node, p *Pod) *snode {
	g, typ := -1, n.Type
	if p != nil {
		g, typ = d.groupIdx[p.Group], p.Group
	} else if i, ok := d.groupIdx[n.Type]; ok {
		g = i
	}
	sn := d.u.newSnode(g, typ, kindRunning, n.Labels, func(total, avail vec) {
		d.u.fill(total, n.Total)
		d.u.fill(avail, n.Available)
	})
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

// short abbreviates a 56-character hex node id for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
