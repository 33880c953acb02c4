package engine

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// R is a resource bundle literal.
type R = map[string]float64

var t0 = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// world builds one Decide input. Spec replicas default to the number of
// pods of each group (even below minReplicas: KubeRay reads such a spec as
// minReplicas and creates the pods itself), so a test only mentions them when
// it wants replicas without pods (Ray's REQUESTED instances).
type world struct {
	c    Cluster
	s    State
	pods []Pod
	spec map[string]int
}

func newWorld(groups ...Group) *world {
	return &world{c: Cluster{Groups: groups, IdleTimeout: DefaultIdleTimeout, UpscalingSpeed: DefaultUpscalingSpeed}, spec: map[string]int{}}
}

func grp(name string, res R, minR, maxR int) Group {
	return Group{Name: name, Resources: res, MinReplicas: minR, MaxReplicas: maxR}
}

func (w *world) group(name string) *Group {
	for i := range w.c.Groups {
		if w.c.Groups[i].Name == name {
			return &w.c.Groups[i]
		}
	}
	panic("no group " + name)
}

// running adds a worker pod with a live Ray node of the group's shape.
func (w *world) running(pod, group string, avail R, idle time.Duration) *world {
	return w.runningTotal(pod, group, w.group(group).Resources, avail, idle)
}

func (w *world) runningTotal(pod, group string, total, avail R, idle time.Duration) *world {
	st := NodeRunning
	if idle > 0 {
		st = NodeIdle
	}
	w.pods = append(w.pods, Pod{Name: pod, Group: group, Running: true, Created: t0.Add(-time.Hour)})
	w.s.Nodes = append(w.s.Nodes, Node{ID: "n-" + pod, InstanceID: pod, Type: group, Status: st,
		Total: maps.Clone(total), Available: maps.Clone(avail), Idle: idle})
	return w
}

// pending adds a worker pod whose Ray node has not registered yet.
func (w *world) pending(pod, group string) *world {
	w.pods = append(w.pods, Pod{Name: pod, Group: group, Created: t0.Add(-time.Minute)})
	return w
}

func (w *world) head(total, avail R, idle time.Duration) *world {
	w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", InstanceID: "head-pod", Type: HeadGroupName, Status: NodeRunning,
		Total: total, Available: avail, Idle: idle, Head: true})
	return w
}

func (w *world) demand(r R, n int) *world {
	w.s.Pending = append(w.s.Pending, ShapeCount{Request: Request{Resources: r}, Count: n})
	return w
}

func (w *world) gang(id string, s Strategy, bundles ...R) *world {
	g := Gang{ID: id, Strategy: s}
	for _, b := range bundles {
		g.Bundles = append(g.Bundles, Request{Resources: b})
	}
	w.s.Gangs = append(w.s.Gangs, g)
	return w
}

func (w *world) constraint(bundles ...R) *world {
	var k Constraint
	for _, b := range bundles {
		k.Bundles = append(k.Bundles, ShapeCount{Request: Request{Resources: b}, Count: 1})
	}
	w.s.Constraints = append(w.s.Constraints, k)
	return w
}

// input fills in the spec replicas and returns the Decide arguments.
func (w *world) input() (Cluster, State, []Pod) {
	c := w.c
	c.Groups = slices.Clone(w.c.Groups)
	for i := range c.Groups {
		g := &c.Groups[i]
		if r, ok := w.spec[g.Name]; ok {
			g.Replicas = r
			continue
		}
		n := 0
		for _, p := range w.pods {
			if p.Group == g.Name && !p.ListedForDeletion && !p.Deleting {
				n++
			}
		}
		g.Replicas = (n + g.Hosts() - 1) / g.Hosts()
	}
	return c, w.s, w.pods
}

func (w *world) decide() Plan {
	c, s, p := w.input()
	return Decide(c, s, p, t0)
}

// want is what a table case checks; nil maps and slices are not checked
// unless the field says otherwise.
type want struct {
	launch    map[string]int // checked always: nil means nothing launched
	terminate []string       // "pod:CAUSE", checked always, order-insensitive
	// anyOf: terminate must be one of these sets instead (Ray's tests that
	// accept any of several nodes).
	anyOf       [][]string
	infeasible  int // pending requests left over (sum of counts)
	gangs       int // infeasible placement groups
	constraints int // infeasible request_resources constraints
	replicas    map[string]int
}

func check(t *testing.T, p Plan, w want) {
	t.Helper()
	launch := p.Launch
	if len(launch) == 0 {
		launch = nil
	}
	wl := w.launch
	if len(wl) == 0 {
		wl = nil
	}
	if !maps.Equal(launch, wl) {
		t.Errorf("launch = %v, want %v", launch, wl)
	}
	got := terms(p)
	if w.anyOf != nil {
		ok := false
		for _, set := range w.anyOf {
			ok = ok || slices.Equal(got, sorted(set))
		}
		if !ok {
			t.Errorf("terminate = %v, want one of %v", got, w.anyOf)
		}
	} else if !slices.Equal(got, sorted(w.terminate)) {
		t.Errorf("terminate = %v, want %v", got, sorted(w.terminate))
	}
	inf := 0
	for _, r := range p.Infeasible.Requests {
		inf += r.Count
	}
	if inf != w.infeasible || len(p.Infeasible.Gangs) != w.gangs || len(p.Infeasible.Constraints) != w.constraints {
		t.Errorf("infeasible = %d requests, %d gangs, %d constraints; want %d, %d, %d",
			inf, len(p.Infeasible.Gangs), len(p.Infeasible.Constraints), w.infeasible, w.gangs, w.constraints)
	}
	for g, r := range w.replicas {
		if p.Replicas[g] != r {
			t.Errorf("replicas[%s] = %d, want %d", g, p.Replicas[g], r)
		}
	}
	if t.Failed() {
		for _, d := range p.Decisions {
			t.Log(d)
		}
	}
}

func terms(p Plan) []string {
	var out []string
	for _, t := range p.Terminate {
		out = append(out, fmt.Sprintf("%s:%s", t.Pod, t.Cause))
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return nil
	}
	return s
}

func dur(d time.Duration) *time.Duration { return &d }

func ptr[T any](v T) *T { return &v }

func selIn(key string, values ...string) LabelSelector {
	return LabelSelector{{Key: key, Op: LabelIn, Values: values}}
}
