package engine

import (
	"slices"
	"time"
)

// kind is where a scheduling node comes from.
type kind uint8

const (
	kindRunning kind = iota // a live Ray node (a worker pod or the head)
	kindPending             // a pod whose Ray node has not registered yet
	kindPhantom             // a replica the spec asks for whose pod does not exist yet
	kindNew                 // a worker this round decides to launch
)

// status is Ray's SchedulingNodeStatus.
type status uint8

const (
	schedulable status = iota
	toLaunch
	toTerminate
)

// source is Ray's ResourceRequestSource: demand and request_resources
// constraints are packed against separate availabilities.
type source int

const (
	srcDemand     source = iota // starts at the node's available resources
	srcConstraint               // starts at the node's total resources
	numSources
)

// slot is one node's packing state for one source. types, ntypes, anyGPU and
// label accumulate what is placed, for the score.
type slot struct {
	avail  vec
	types  []bool
	ntypes int
	anyGPU bool
	label  int
	placed int
}

func (s slot) clone() slot {
	s.avail = s.avail.clone()
	s.types = slices.Clone(s.types)
	return s
}

// placement records requests put on a new node, to explain the launch.
type placement struct {
	q *creq
	n int
}

// snode is Ray's SchedulingNode.
type snode struct {
	group    int // index in Cluster.Groups, -1 for a head whose type is not a worker group
	typ      string
	kind     kind
	status   status
	head     bool
	pod      *Pod
	nodeID   string
	idle     time.Duration
	total    vec
	totalIdx []int // indices present in total, for the score
	slots    [numSources]slot
	labels   map[string]string
	extra    []string // anti-affinity labels added this round (value "")
	forMin   bool     // launched for minReplicas
	placed   []placement
	term     *Termination
	avail    float64 // the group's availability score
}

func (n *snode) clone() *snode {
	c := *n
	for i := range c.slots {
		c.slots[i] = n.slots[i].clone()
	}
	c.extra = slices.Clone(n.extra)
	c.placed = slices.Clone(n.placed)
	return &c
}

// hasRay reports whether a Ray node runs on it (Ray's "ray_node_id set").
func (n *snode) hasRay() bool { return n.kind == kindRunning }

// newSnode builds a node whose totals and available resources (for pending
// demand) are filled in by fill. All of its vectors share two backing arrays:
// a cluster of a thousand nodes is rebuilt every round.
func (u *universe) newSnode(group int, typ string, k kind, labels map[string]string, fill func(total, avail vec)) *snode {
	nk := len(u.names)
	fs := make([]float64, 3*nk)
	bs := make([]bool, 5*nk)
	total := vec{v: fs[:nk:nk], has: bs[:nk:nk]}
	avail := vec{v: fs[nk : 2*nk : 2*nk], has: bs[nk : 2*nk : 2*nk]}
	fill(total, avail)
	cons := vec{v: fs[2*nk:], has: bs[2*nk : 3*nk : 3*nk]}
	copy(cons.v, total.v)
	copy(cons.has, total.has)
	n := &snode{group: group, typ: typ, kind: k, total: total, labels: labels}
	cnt := 0
	for _, has := range total.has {
		if has {
			cnt++
		}
	}
	n.totalIdx = make([]int, 0, cnt)
	for i, has := range total.has {
		if has {
			n.totalIdx = append(n.totalIdx, i)
		}
	}
	n.slots[srcDemand] = slot{avail: avail, types: bs[3*nk : 4*nk : 4*nk]}
	n.slots[srcConstraint] = slot{avail: cons, types: bs[4*nk:]}
	return n
}

// fresh builds a node of group g as its configuration describes it: the state
// of every worker Ray has not reported yet.
func (d *decider) fresh(g int, k kind) *snode {
	grp := &d.c.Groups[g]
	res := d.groupRes[g]
	n := d.u.newSnode(g, grp.Name, k, grp.Labels, func(total, avail vec) {
		copy(total.v, res.v)
		copy(total.has, res.has)
		copy(avail.v, res.v)
		copy(avail.has, res.has)
	})
	n.avail = grp.availability()
	if k == kindNew {
		n.status = toLaunch
	}
	return n
}
