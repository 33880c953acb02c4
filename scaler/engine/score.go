package engine

import "cmp"

// score is Ray v2's utilization score of a node after a trial placement,
// compared lexicographically, higher is better, followed by the cloud
// availability score that v2 uses as the final tie-breaker.
type score struct {
	label  int     // label-selector preference of what is placed (0: none)
	gpuOK  bool    // false: a GPU node would take work that needs no GPU
	types  int     // distinct requested resources the node has
	min    float64 // min over the node's resources of total × util³
	mean   float64 // mean of the same
	avail  float64 // cloud availability of the node type
	placed int     // requests taken in this trial (0: not a candidate)
}

func compareScore(a, b score) int {
	if c := cmp.Compare(a.label, b.label); c != 0 {
		return c
	}
	if a.gpuOK != b.gpuOK {
		if a.gpuOK {
			return 1
		}
		return -1
	}
	return cmp.Or(cmp.Compare(a.types, b.types), cmp.Compare(a.min, b.min), cmp.Compare(a.mean, b.mean), cmp.Compare(a.avail, b.avail))
}

// score computes the tuple for node n in the packing state sl. The
// utilization term weights each resource by its capacity (v × util³), which
// is what makes Ray prefer the smallest node that is filled best: {CPU: 64}
// half used scores 8, {GPU: 4} half used 0.5.
//
// Resources outside the universe (see universe) add their fixed terms: on the
// demand slot as the GCS reported them, on the constraint slot (packed
// against totals) with a utilization of zero.
func (d *decider) score(n *snode, sl *slot, src source) score {
	s := score{label: sl.label, gpuOK: true, types: sl.ntypes, avail: n.avail}
	if g := d.u.gpu; g >= 0 && !d.c.SpendGPUNodesOnCPUWork && n.total.has[g] && n.total.v[g] > 0 && !sl.anyGPU {
		s.gpuOK = false
	}
	cnt, sum := 0, 0.0
	switch f := &n.fixed; {
	case src == srcDemand && f.cnt > 0:
		cnt, sum, s.min = f.cnt, f.sum, f.min
	case src == srcConstraint && f.consCount > 0:
		cnt = f.consCount
	}
	for _, i := range n.totalIdx {
		v := n.total.v[i]
		if v == 0 || !sl.avail.has[i] {
			// Ray skips zero totals and resources absent from the available
			// map (which the GCS omits when fully used).
			continue
		}
		util := min(max((v-sl.avail.v[i])/v, 0), 1)
		x := v * util * util * util
		if cnt == 0 || x < s.min {
			s.min = x
		}
		sum += x
		cnt++
	}
	if cnt > 0 {
		s.mean = sum / float64(cnt)
	}
	return s
}
