package engine

import (
	"fmt"
	"time"
)

// entropy is where random inputs come from: math/rand/v2 in property tests,
// the fuzzer's bytes in fuzz tests.
type entropy interface {
	IntN(n int) int
}

// byteEntropy reads decisions from fuzzed bytes; exhausted input reads as 0.
type byteEntropy struct {
	b []byte
	i int
}

func (e *byteEntropy) IntN(n int) int {
	if n <= 1 || e.i >= len(e.b) {
		return 0
	}
	v := int(e.b[e.i])
	e.i++
	return v % n
}

func pick[T any](e entropy, xs ...T) T { return xs[e.IntN(len(xs))] }

// genShape draws a bundle from a small palette, so that shapes repeat and fit
// some groups but not others.
func genShape(e entropy) R {
	r := R{}
	if n := pick(e, 0.0, 0.5, 1, 1, 2, 3); n > 0 {
		r["CPU"] = n
	}
	if e.IntN(4) == 0 {
		r["GPU"] = pick(e, 0.0, 0.5, 1, 2)
	}
	if e.IntN(6) == 0 {
		r["X"] = 1
	}
	if e.IntN(10) == 0 {
		r[implicitA] = pick(e, 0.5, 1)
	}
	return r
}

func genRequest(e entropy) Request {
	q := Request{Resources: genShape(e)}
	if e.IntN(6) == 0 {
		q.Selectors = []LabelSelector{selIn("zone", pick(e, "a", "b")), {{Key: "zone", Op: pick(e, LabelIn, LabelNotIn, LabelOp(0)), Values: []string{"a"}}}}
	}
	return q
}

// genInput draws an arbitrary (and sometimes inconsistent) Decide input:
// groups with odd bounds, pods in every state, foreign pods, a head, dead and
// draining nodes, demand of every kind. Names and ids are unique, as they are
// in a real cluster.
func genInput(e entropy) (Cluster, State, []Pod) {
	var c Cluster
	c.IdleTimeout = pick(e, 0, time.Second, time.Minute)
	c.UpscalingSpeed = pick(e, 0.0, 1, 1000)
	c.MaxWorkers = pick(e, 0, 0, 3, 10)
	c.MaxConcurrentLaunches = pick(e, 0, 3)
	c.SpendGPUNodesOnCPUWork = e.IntN(4) == 0
	ng := 1 + e.IntN(4)
	for i := range ng {
		g := Group{Name: fmt.Sprintf("g%d", i), Resources: R{"CPU": pick(e, 0.0, 1, 2, 4, 8)}}
		if e.IntN(3) == 0 {
			g.Resources["GPU"] = pick(e, 0.0, 1, 2)
		}
		if e.IntN(4) == 0 {
			g.Resources["X"] = 1
		}
		if e.IntN(3) == 0 {
			g.Labels = map[string]string{"zone": pick(e, "a", "b")}
		}
		g.MinReplicas = e.IntN(3)
		g.MaxReplicas = g.MinReplicas + e.IntN(6) - 1 // sometimes below min
		g.NumOfHosts = pick(e, 1, 1, 1, 2)
		g.Replicas = e.IntN(7)
		if e.IntN(4) == 0 {
			g.IdleTimeout = dur(pick(e, 0, time.Second, time.Hour))
		}
		if e.IntN(4) == 0 {
			g.Availability = ptr(pick(e, 0.0, 0.5, 1))
		}
		c.Groups = append(c.Groups, g)
	}

	var s State
	var pods []Pod
	if e.IntN(4) > 0 {
		// The head, sometimes under a worker group's name, recognised by its
		// marker resource, its Head flag or its pod's node-type label.
		head := Node{ID: "head", InstanceID: "head-pod", Type: pick(e, HeadGroupName, "g0"), Status: NodeRunning, Head: e.IntN(2) == 0,
			Total: R{"CPU": 2, HeadResource: 1}, Available: R{"CPU": pick(e, 0.0, 2)}, Idle: time.Hour}
		if e.IntN(3) == 0 {
			delete(head.Total, HeadResource)
			head.Head = false
			pods = append(pods, Pod{Name: "head-pod", Group: head.Type, Running: true, Head: true})
		}
		s.Nodes = append(s.Nodes, head)
	}
	np := e.IntN(12)
	for i := range np {
		name := fmt.Sprintf("p%d", i)
		group := fmt.Sprintf("g%d", e.IntN(ng+1)) // g<ng> is a group of nobody
		p := Pod{Name: name, Group: group, IP: fmt.Sprintf("10.0.0.%d", i), Running: e.IntN(2) == 0,
			Deleting: e.IntN(10) == 0, ListedForDeletion: e.IntN(10) == 0, Created: t0.Add(-pick(e, 0, time.Minute, time.Hour))}
		pods = append(pods, p)
		total := genShape(e)
		if gi := indexOf(c.Groups, group); gi >= 0 && e.IntN(3) > 0 {
			total = c.Groups[gi].Resources
		}
		avail := R{}
		for k, v := range total {
			if e.IntN(3) > 0 {
				avail[k] = v * pick(e, 0.0, 0.5, 1)
			}
		}
		st := pick(e, NodeRunning, NodeIdle, NodeIdle, NodeDraining, NodeDead, NodeUnspecified, NodeStatus(9))
		n := Node{ID: "n" + name, InstanceID: name, Type: group, IP: p.IP, Status: st, Total: total, Available: avail,
			Idle: pick(e, 0, time.Millisecond, 30*time.Second, time.Hour)}
		if e.IntN(6) == 0 {
			n.InstanceID = ""
		}
		switch e.IntN(5) {
		case 0: // no Ray node yet
		case 1: // a restarted Ray: dead node plus a live one
			dead := n
			dead.ID, dead.Status = "d"+name, NodeDead
			s.Nodes = append(s.Nodes, dead, n)
		default:
			s.Nodes = append(s.Nodes, n)
		}
	}
	for range e.IntN(4) {
		s.Pending = append(s.Pending, ShapeCount{Request: genRequest(e), Count: pick(e, 0, 1, 3, 20)})
	}
	for i := range e.IntN(3) {
		g := Gang{ID: fmt.Sprintf("pg%d", i), Strategy: pick(e, Pack, Spread, StrictPack, StrictSpread, Strategy("ODD"))}
		for range e.IntN(4) {
			g.Bundles = append(g.Bundles, genRequest(e))
		}
		s.Gangs = append(s.Gangs, g)
	}
	if e.IntN(3) == 0 {
		var k Constraint
		for range 1 + e.IntN(3) {
			k.Bundles = append(k.Bundles, ShapeCount{Request: genRequest(e), Count: 1 + e.IntN(3)})
		}
		s.Constraints = append(s.Constraints, k)
	}
	return c, s, pods
}

func indexOf(gs []Group, name string) int {
	for i, g := range gs {
		if g.Name == name {
			return i
		}
	}
	return -1
}
