package engine

import (
	"encoding/binary"
	"math"
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
	fixed    fixedTerms
	// keys caches classKey per source and labelKey; a clone starts without.
	keys     [numSources]string
	labelKey string
}

func (n *snode) clone() *snode {
	c := *n
	for i := range c.slots {
		c.slots[i] = n.slots[i].clone()
	}
	c.extra = slices.Clone(n.extra)
	c.placed = slices.Clone(n.placed)
	c.keys, c.labelKey = [numSources]string{}, ""
	return &c
}

// classKey identifies what a trial on n against source src and its score
// depend on: the slot's state, the totals, the fixed terms and the
// availability score; with labels, the node's labels and anti-affinity
// labels too (needed only when a request has a selector or anti-affinity).
// Nodes with equal keys take the same requests and score the same, so one
// trial serves them all.
func (n *snode) classKey(src source, labels bool) string {
	if n.keys[src] == "" {
		sl := &n.slots[src]
		nk := len(n.total.v)
		b := make([]byte, 0, 24*nk+64)
		b = append(b, 'k')
		for i := range nk {
			b = appendVecEntry(b, n.total, i)
			b = appendVecEntry(b, sl.avail, i)
			b = append(b, boolByte(sl.types[i]))
		}
		b = binary.AppendVarint(b, int64(sl.ntypes))
		b = append(b, boolByte(sl.anyGPU))
		b = binary.AppendVarint(b, int64(sl.label))
		b = binary.AppendVarint(b, int64(n.fixed.cnt))
		b = binary.AppendVarint(b, int64(n.fixed.consCount))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(n.fixed.sum))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(n.fixed.min))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(n.avail))
		n.keys[src] = string(b)
	}
	if !labels {
		return n.keys[src]
	}
	if n.labelKey == "" {
		names := make([]string, 0, len(n.labels))
		for k := range n.labels {
			names = append(names, k)
		}
		slices.Sort(names)
		b := []byte{'l'}
		for _, k := range names {
			b = appendString(appendString(b, k), n.labels[k])
		}
		b = append(b, '|')
		extra := slices.Clone(n.extra)
		slices.Sort(extra)
		for _, k := range extra {
			b = appendString(b, k)
		}
		n.labelKey = string(b)
	}
	return n.keys[src] + n.labelKey
}

func appendVecEntry(b []byte, x vec, i int) []byte {
	if !x.has[i] {
		return append(b, 0)
	}
	return binary.LittleEndian.AppendUint64(append(b, 1), math.Float64bits(x.v[i]))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// hasRay reports whether a Ray node runs on it (Ray's "ray_node_id set").
func (n *snode) hasRay() bool { return n.kind == kindRunning }

// newSnode builds a node whose totals and available resources (for pending
// demand) the caller fills in before calling seal. All of its vectors come
// from slabs shared by many nodes: a cluster of ten thousand nodes is
// rebuilt every round.
func (d *decider) newSnode(group int, typ string, k kind, labels map[string]string) (n *snode, total, avail vec) {
	nk := len(d.u.names)
	if len(d.fslab) < 3*nk || len(d.bslab) < 5*nk {
		d.slabSize = min(max(2*d.slabSize, 8), maxSlabNodes)
		d.fslab, d.bslab = make([]float64, 3*nk*d.slabSize), make([]bool, 5*nk*d.slabSize)
	}
	fs, bs := d.fslab[:3*nk:3*nk], d.bslab[:5*nk:5*nk]
	d.fslab, d.bslab = d.fslab[3*nk:], d.bslab[5*nk:]
	total = vec{v: fs[:nk:nk], has: bs[:nk:nk]}
	avail = vec{v: fs[nk : 2*nk : 2*nk], has: bs[nk : 2*nk : 2*nk]}
	cons := vec{v: fs[2*nk:], has: bs[2*nk : 3*nk : 3*nk]}
	if len(d.nslab) == 0 {
		d.nslabSize = min(max(2*d.nslabSize, 8), maxSlabNodes)
		d.nslab = make([]snode, d.nslabSize)
	}
	n = &d.nslab[0]
	d.nslab = d.nslab[1:]
	*n = snode{group: group, typ: typ, kind: k, total: total, labels: labels}
	n.slots[srcDemand] = slot{avail: avail, types: bs[3*nk : 4*nk : 4*nk]}
	n.slots[srcConstraint] = slot{avail: cons, types: bs[4*nk:]}
	return n, total, avail
}

// maxSlabNodes is how many nodes one slab allocation holds at most; slabs
// start at 8 nodes and double, so that a small cluster allocates little.
const maxSlabNodes = 256

// seal copies the totals into the constraint slot (request_resources is
// packed against totals) and indexes them.
func (n *snode) seal() {
	cons := n.slots[srcConstraint].avail
	copy(cons.v, n.total.v)
	copy(cons.has, n.total.has)
	cnt := 0
	for _, has := range n.total.has {
		if has {
			cnt++
		}
	}
	n.totalIdx = make([]int, 0, cnt)
	for i, has := range n.total.has {
		if has {
			n.totalIdx = append(n.totalIdx, i)
		}
	}
}

// fresh builds a node of group g as its configuration describes it: the state
// of every worker Ray has not reported yet.
func (d *decider) fresh(g int, k kind) *snode {
	grp := &d.c.Groups[g]
	res := d.groupRes[g]
	n, total, avail := d.newSnode(g, grp.Name, k, grp.Labels)
	copy(total.v, res.v)
	copy(total.has, res.has)
	copy(avail.v, res.v)
	copy(avail.has, res.has)
	n.seal()
	n.avail = grp.availability()
	if k == kindNew {
		n.status = toLaunch
	}
	return n
}
