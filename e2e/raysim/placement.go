package raysim

import "time"

// placePending places what fits, oldest first. A placement group is all or
// nothing: its pending bundles are placed together or not at all. Only
// nodes that are live and not draining take work, and a bundle only lands
// on a node whose labels its selector matches. c.mu held.
func (c *cluster) placePending(now time.Time) {
	nodes := c.schedulable()
	// A task or actor that does not fit rules out the same demand later in
	// this pass: nodes only fill up within it.
	unfit := map[string]bool{}
	for _, it := range c.items {
		if it.placed() || unfit[it.demand] && it.demand != "" {
			continue
		}
		targets := c.fit(it, nodes)
		if targets == nil {
			if it.demand != "" {
				unfit[it.demand] = true
			}
			continue
		}
		if it.placedOn == nil {
			it.placedOn = make([]*node, len(it.bundles))
		}
		for i, n := range targets {
			if it.placedOn[i] != nil {
				continue
			}
			subtract(n.avail, it.bundles[i])
			n.work++
			it.placedOn[i] = n
		}
		it.wasCreated = true
		if it.kind == kindTask {
			it.endsAt = now.Add(it.duration)
		}
	}
}

// fit chooses a node for every bundle not yet placed, honouring the
// strategy and the bundles already placed, or returns nil. The result has
// one entry per bundle; placed bundles keep their node.
func (c *cluster) fit(it *item, nodes []*node) []*node {
	avail := map[*node]map[string]float64{}
	for _, n := range nodes {
		avail[n] = clone(n.avail)
	}
	out := make([]*node, len(it.bundles))
	var need []int
	used := map[*node]bool{}
	for i := range it.bundles {
		if i < len(it.placedOn) && it.placedOn[i] != nil {
			out[i] = it.placedOn[i]
			used[it.placedOn[i]] = true
			continue
		}
		need = append(need, i)
	}
	switch it.strategy {
	case "STRICT_PACK":
		return packOnto(it, out, need, candidatesFor(used, nodes), avail)
	case "PACK":
		if got := packOnto(it, out, need, candidatesFor(used, nodes), avail); got != nil {
			return got
		}
	}
	for _, i := range need {
		var pick *node
		for _, n := range nodes {
			if !it.selectors[i].matches(n.labels) || !fits(it.bundles[i], avail[n]) {
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
		subtract(avail[pick], it.bundles[i])
		used[pick] = true
		out[i] = pick
	}
	return out
}

// candidatesFor is where a packed group may go: the node its placed
// bundles are on (if it still takes work), else any node.
func candidatesFor(used map[*node]bool, nodes []*node) []*node {
	if len(used) == 0 {
		return nodes
	}
	var out []*node
	for _, n := range nodes {
		if used[n] {
			out = append(out, n)
		}
	}
	return out
}

// packOnto puts every needed bundle on one candidate node whose labels
// match all their selectors, or returns nil.
func packOnto(it *item, out []*node, need []int, candidates []*node, avail map[*node]map[string]float64) []*node {
	total := map[string]float64{}
	for _, i := range need {
		add(total, it.bundles[i])
	}
	for _, n := range candidates {
		ok := fits(total, avail[n])
		for _, i := range need {
			ok = ok && it.selectors[i].matches(n.labels)
		}
		if !ok {
			continue
		}
		for _, i := range need {
			out[i] = n
		}
		return out
	}
	return nil
}

// infeasible reports whether no node that takes work could ever run the
// task or actor it: none matches its selector with enough total resources
// (Ray: NodeResources::IsFeasible, src/ray/common/scheduling/cluster_resource_data.cc;
// a draining node takes no work). c.mu held.
func (c *cluster) infeasible(it *item) bool {
	for _, n := range c.schedulable() {
		if it.selectors[0].matches(n.labels) && fits(it.bundles[0], n.total) {
			return false
		}
	}
	return true
}
