package engine

import (
	"cmp"
	"fmt"
	"slices"
)

// countLive counts the nodes of each group that are not being terminated
// (Ray's get_cluster_shape), the replicas not modelled as nodes included.
func (d *decider) countLive() []int {
	c := slices.Clone(d.extra)
	for _, n := range d.nodes {
		if n.group >= 0 && n.status != toTerminate {
			c[n.group]++
		}
	}
	return c
}

// enforceMin is Ray's _enforce_min_workers_per_type: launch what each group
// lacks to reach its min workers. Pending pods and requested replicas count,
// so they are never launched twice. The new nodes go to the front of the
// context, as in Ray.
//
// A group whose min is above its max launches only up to its max: Ray would
// launch up to min and the next step would remove the surplus, the new nodes
// first (they lead the context and have no Ray), with the same result. At
// most maxNewNodes are launched.
func (d *decider) enforceMin() {
	count := d.countLive()
	var added []*snode
	for g, grp := range d.c.Groups {
		lack := min(grp.MinWorkers(), grp.MaxWorkers(), addSat(count[g], maxNewNodes-len(added))) - count[g]
		for range max(lack, 0) {
			n := d.fresh(g, kindNew)
			n.forMin = true
			added = append(added, n)
		}
	}
	d.nodes = append(added, d.nodes...)
}

// enforceMaxPerType is Ray's _enforce_max_workers_per_type: a group with more
// live nodes than its max workers loses the surplus, chosen by
// terminationOrder. Like Ray it regroups the context by type.
func (d *decider) enforceMaxPerType() {
	var terminating []*snode
	var order []int // group ids (and -1 for foreign heads) in first-seen order
	byType := map[int][]*snode{}
	for _, n := range d.nodes {
		if n.status == toTerminate {
			terminating = append(terminating, n)
			continue
		}
		if _, ok := byType[n.group]; !ok {
			order = append(order, n.group)
		}
		byType[n.group] = append(byType[n.group], n)
	}
	live := make([]*snode, 0, len(d.nodes))
	for _, g := range order {
		nodes := byType[g]
		if g >= 0 {
			grp := d.c.Groups[g]
			extra := addSat(len(nodes), d.extra[g]) - grp.MaxWorkers()
			extra -= d.dropExtra(g, extra)
			if extra > 0 {
				var gone []*snode
				gone, nodes = d.selectForTermination(nodes, extra, CauseMaxPerType,
					fmt.Sprintf("group has %s, maxReplicas allows %d", plural(len(nodes), "worker"), grp.MaxWorkers()))
				terminating = append(terminating, gone...)
			}
		}
		live = append(live, nodes...)
	}
	d.nodes = append(terminating, live...)
}

// enforceMaxGlobal is Ray's _enforce_max_workers_global against the
// cluster's worker cap.
func (d *decider) enforceMaxGlobal() {
	if d.c.MaxWorkers <= 0 {
		return
	}
	var terminating, live []*snode
	workers := 0
	for g := range d.extra {
		workers = addSat(workers, d.extra[g])
	}
	for _, n := range d.nodes {
		if n.status == toTerminate {
			terminating = append(terminating, n)
			continue
		}
		live = append(live, n)
		if !n.head {
			workers++
		}
	}
	extra := workers - d.c.MaxWorkers
	for g := range d.extra {
		extra -= d.dropExtra(g, extra)
	}
	if extra <= 0 {
		return
	}
	gone, live := d.selectForTermination(live, extra, CauseMaxNodes,
		fmt.Sprintf("cluster has %s, the cap is %d", plural(workers, "worker"), d.c.MaxWorkers))
	d.nodes = append(append(terminating, gone...), live...)
}

// dropExtra gives up to k of group g's replicas not modelled as nodes (see
// maxPhantoms) and returns how many. They are the first to go: they have no
// pod and no Ray node.
func (d *decider) dropExtra(g, k int) int {
	k = min(max(k, 0), d.extra[g])
	d.extra[g] -= k
	return k
}

// selectForTermination is Ray's _select_nodes_to_terminate: sort by
// terminationOrder, take the first k that are not the head, and return them
// marked plus the rest (in sorted order, the head last).
func (d *decider) selectForTermination(nodes []*snode, k int, cause Cause, why string) (gone, rest []*snode) {
	sorted := slices.Clone(nodes)
	slices.SortStableFunc(sorted, d.terminationOrder)
	var heads []*snode
	for _, n := range sorted {
		switch {
		case n.head:
			heads = append(heads, n)
		case len(gone) < k:
			d.markTerminate(n, cause, why)
			gone = append(gone, n)
		default:
			rest = append(rest, n)
		}
	}
	return gone, append(rest, heads...)
}

// terminationOrder is Ray's _sort_nodes_for_termination: nodes without Ray
// first, then the longest idle, then the least utilized.
func (d *decider) terminationOrder(a, b *snode) int {
	if a.hasRay() != b.hasRay() {
		if !a.hasRay() {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(b.idle, a.idle), cmp.Compare(avgUtil(a), avgUtil(b)))
}

// avgUtil is the mean of (total - available)/total over the node's resources
// for pending demand.
func avgUtil(n *snode) float64 {
	sum, cnt := n.fixed.utilSum, n.fixed.utilCnt
	av := n.slots[srcDemand].avail
	for _, i := range n.totalIdx {
		t := n.total.v[i]
		if t <= 0 {
			continue
		}
		a := 0.0
		if av.has[i] {
			a = av.v[i]
		}
		sum += (t - a) / t
		cnt++
	}
	if cnt == 0 {
		return 0
	}
	return sum / float64(cnt)
}

// markTerminate marks n for termination. Nodes that exist only in this plan
// (a replica without a pod, a launch) get no Termination: dropping them just
// lowers the replicas.
func (d *decider) markTerminate(n *snode, cause Cause, why string) {
	n.status = toTerminate
	if n.pod == nil {
		return
	}
	t := &Termination{Pod: n.pod.Name, Group: n.typ, NodeID: n.nodeID, Cause: cause, Reason: why, Idle: n.idle}
	if n.hasRay() {
		t.Drain = true
	}
	n.term = t
}
