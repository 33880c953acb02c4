package engine

import "fmt"

// enforceIdle is Ray's _enforce_idle_termination: a worker idle for strictly
// longer than its timeout (the group's, else the cluster's) is terminated,
// unless this round placed any demand or request_resources bundle on it, or
// the group would drop to its min workers. Nodes are visited in context
// order, so which of several idle nodes survive follows Ray.
func (d *decider) enforceIdle() {
	count := d.countLive()
	gone := make([]int, len(d.c.Groups))
	marked := make([][]*snode, len(d.c.Groups))
	for _, n := range d.nodes {
		if n.status != schedulable || n.head || n.group < 0 || !n.hasRay() {
			continue
		}
		grp := &d.c.Groups[n.group]
		// A negative timeout would make busy nodes (idle 0) look idle.
		timeout := max(d.c.idleTimeout(grp), 0)
		if n.idle <= timeout {
			continue
		}
		if n.slots[srcDemand].placed > 0 || n.slots[srcConstraint].placed > 0 {
			continue
		}
		if count[n.group]-gone[n.group] <= grp.MinWorkers() {
			continue
		}
		gone[n.group]++
		marked[n.group] = append(marked[n.group], n)
		d.markTerminate(n, CauseIdle, fmt.Sprintf("idle for %s > timeout %s", n.idle, timeout))
	}
	// A multi-host group shrinks by whole replicas: KubeRay counts its pods
	// in units of numOfHosts and would recreate a lone removed host.
	for g, nodes := range marked {
		h := d.c.Groups[g].Hosts()
		for _, n := range nodes[len(nodes)-len(nodes)%h:] {
			n.status, n.term = schedulable, nil
		}
	}
}
