package engine

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"
)

// checkPlan verifies what must hold for any input: replicas within bounds,
// terminations only of this cluster's live worker pods (never twice, never
// the head, never a pod whose Ray node is in a status the engine does not
// know), idle terminations only of nodes idle past their timeout, and
// never fewer replicas than the pods the plan keeps (KubeRay would otherwise
// delete pods at random).
func checkPlan(c Cluster, s State, pods []Pod, p Plan) error {
	groups := map[string]Group{}
	for _, g := range c.Groups {
		if _, dup := groups[g.Name]; !dup {
			groups[g.Name] = g
		}
	}
	for name, g := range groups {
		r, ok := p.Replicas[name]
		hi := max(g.MaxReplicas, 0)
		lo := min(max(g.MinReplicas, 0), hi)
		if !ok || r < lo || r > hi {
			return fmt.Errorf("replicas[%s] = %d (present %v), bounds [%d, %d]", name, r, ok, lo, hi)
		}
	}
	for name, n := range p.Launch {
		if _, ok := groups[name]; !ok || n <= 0 {
			return fmt.Errorf("launch[%s] = %d", name, n)
		}
	}
	byName := map[string]Pod{}
	for _, pd := range pods {
		if _, dup := byName[pd.Name]; !dup {
			byName[pd.Name] = pd
		}
	}
	seen := map[string]bool{}
	removed := map[string]int{}
	for i, t := range p.Terminate {
		pd, ok := byName[t.Pod]
		if _, known := groups[pd.Group]; !ok || !known || pd.Head || pd.Group != t.Group || pd.Deleting || pd.ListedForDeletion || seen[t.Pod] {
			return fmt.Errorf("termination %+v of pod %+v (known %v, seen %v)", t, pd, ok, seen[t.Pod])
		}
		if i > 0 && indexOf(c.Groups, p.Terminate[i-1].Group) == indexOf(c.Groups, t.Group) && p.Terminate[i-1].Pod > t.Pod {
			return fmt.Errorf("terminations not sorted: %v", p.Terminate)
		}
		seen[t.Pod] = true
		removed[t.Group]++
		if t.Drain && t.NodeID == "" {
			return fmt.Errorf("drain without a node: %+v", t)
		}
		for _, n := range s.Nodes {
			if n.InstanceID == t.Pod && !n.Status.known() && t.NodeID == n.ID {
				return fmt.Errorf("termination %+v of a pod whose Ray node has status %s", t, n.Status)
			}
		}
		if t.Cause == CauseIdle {
			g := groups[t.Group]
			var node *Node
			for j := range s.Nodes {
				if s.Nodes[j].ID == t.NodeID {
					node = &s.Nodes[j]
				}
			}
			if node == nil || node.IsHead() || !node.Status.alive() || node.Idle <= max(c.idleTimeout(&g), 0) {
				return fmt.Errorf("idle termination %+v of node %+v", t, node)
			}
		}
	}
	for name, g := range groups {
		active := 0
		for _, pd := range byName {
			if pd.Group == name && !pd.Head && !pd.Deleting && !pd.ListedForDeletion {
				active++
			}
		}
		kept, h := active-removed[name], g.Hosts()
		if kept <= max(g.MaxReplicas, 0)*h && p.Replicas[name]*h < kept {
			return fmt.Errorf("group %s keeps %d pods but replicas %d x %d", name, kept, p.Replicas[name], h)
		}
	}
	return nil
}

// shuffled returns the input with its nodes, pods and pending shapes in
// another order (gangs and constraints keep theirs: it is meaningful).
func shuffled(rng *rand.Rand, s State, pods []Pod) (State, []Pod) {
	s.Nodes = slices.Clone(s.Nodes)
	s.Pending = slices.Clone(s.Pending)
	pods = slices.Clone(pods)
	rng.Shuffle(len(s.Nodes), func(i, j int) { s.Nodes[i], s.Nodes[j] = s.Nodes[j], s.Nodes[i] })
	rng.Shuffle(len(s.Pending), func(i, j int) { s.Pending[i], s.Pending[j] = s.Pending[j], s.Pending[i] })
	rng.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
	return s, pods
}

func propertyRuns(t *testing.T, full int) int {
	if testing.Short() {
		return full / 10
	}
	return full
}

// Thousands of arbitrary inputs: invariants, determinism under reordering,
// and no mutation of the input.
func TestPropertyRandomInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range propertyRuns(t, 3000) {
		c, s, pods := genInput(rng)
		checkMutation := i%10 == 0 // formatting the input is the slow part
		var before string
		if checkMutation {
			before = fmt.Sprintf("%#v %#v %#v", c, s, pods)
		}
		p := Decide(c, s, pods, t0)
		if err := checkPlan(c, s, pods, p); err != nil {
			t.Fatalf("input %d: %v\ncluster %+v\nstate %+v\npods %+v", i, err, c, s, pods)
		}
		if checkMutation && fmt.Sprintf("%#v %#v %#v", c, s, pods) != before {
			t.Fatalf("input %d: Decide changed its input", i)
		}
		s2, pods2 := shuffled(rng, s, pods)
		if p2 := Decide(c, s2, pods2, t0); !reflect.DeepEqual(p, p2) {
			t.Fatalf("input %d: reordered input gives another plan:\n%+v\n%+v", i, p, p2)
		}
	}
}

// The in-test Ray model: KubeRay creates and deletes pods from the spec, pods
// register as Ray nodes after a while, Ray places queued tasks first-fit,
// tasks finish, idle time accumulates. Each round the engine decides and the
// model applies the plan.

const simInterval = 5 * time.Second

type simTask struct {
	shape R
	done  int // round after which it finishes
}

type simPod struct {
	name, group string
	registered  bool
	tasks       []simTask
	idleSince   int
}

type sim struct {
	t       *testing.T
	rng     *rand.Rand
	c       Cluster
	spec    map[string]int
	pods    map[string]*simPod
	queue   []simTask
	seq     int
	round   int
	foreign []Pod
}

func (m *sim) group(name string) Group { return m.c.Groups[indexOf(m.c.Groups, name)] }

// used is what a pod's tasks hold.
func (m *sim) used(p *simPod) R {
	u := R{}
	for _, tk := range p.tasks {
		for k, v := range tk.shape {
			u[k] += v
		}
	}
	return u
}

func (m *sim) state() (State, []Pod) {
	var s State
	var pods []Pod
	names := slices.Sorted(maps.Keys(m.pods))
	for _, name := range names {
		p := m.pods[name]
		pods = append(pods, Pod{Name: name, Group: p.group, Running: p.registered, Created: t0})
		if !p.registered {
			continue
		}
		total := m.group(p.group).Resources
		avail, used := R{}, m.used(p)
		for k, v := range total {
			avail[k] = v - used[k]
		}
		n := Node{ID: "n-" + name, InstanceID: name, Type: p.group, Status: NodeRunning, Total: total, Available: avail}
		if len(p.tasks) == 0 {
			n.Status, n.Idle = NodeIdle, time.Duration(m.round-p.idleSince)*simInterval+time.Millisecond
		}
		s.Nodes = append(s.Nodes, n)
	}
	// Another cluster's pods and nodes, idle forever, in the same lists.
	for _, f := range m.foreign {
		pods = append(pods, f)
		s.Nodes = append(s.Nodes, Node{ID: "n-" + f.Name, InstanceID: f.Name, Type: f.Group, Status: NodeIdle,
			Total: R{"CPU": 1}, Available: R{"CPU": 1}, Idle: time.Hour})
	}
	byShape := map[string]int{}
	var shapes []R
	for _, tk := range m.queue {
		k := fmt.Sprint(tk.shape)
		if byShape[k] == 0 {
			shapes = append(shapes, tk.shape)
		}
		byShape[k]++
	}
	for _, sh := range shapes {
		s.Pending = append(s.Pending, ShapeCount{Request: Request{Resources: sh}, Count: byShape[fmt.Sprint(sh)]})
	}
	return s, pods
}

// step runs one round and returns the plan.
func (m *sim) step(checkDeterminism bool) Plan {
	t := m.t
	c := m.c
	c.Groups = slices.Clone(m.c.Groups)
	for i := range c.Groups {
		c.Groups[i].Replicas = m.spec[c.Groups[i].Name]
	}
	s, pods := m.state()
	now := t0.Add(time.Duration(m.round) * simInterval)
	p := Decide(c, s, pods, now)
	if err := checkPlan(c, s, pods, p); err != nil {
		t.Fatalf("round %d: %v", m.round, err)
	}
	if checkDeterminism {
		s2, pods2 := shuffled(m.rng, s, pods)
		if p2 := Decide(c, s2, pods2, now); !reflect.DeepEqual(p, p2) {
			t.Fatalf("round %d: nondeterministic plan", m.round)
		}
	}

	// Apply terminations: the raylet accepts an idle drain only when idle.
	for _, tm := range p.Terminate {
		pd := m.pods[tm.Pod]
		if pd == nil {
			t.Fatalf("round %d: termination of unknown pod %+v", m.round, tm)
		}
		if len(pd.tasks) > 0 {
			t.Fatalf("round %d: terminating %s which runs %d tasks (%+v)", m.round, tm.Pod, len(pd.tasks), tm)
		}
		if tm.Cause != CauseIdle {
			t.Fatalf("round %d: unexpected termination %+v with a fixed configuration", m.round, tm)
		}
		delete(m.pods, tm.Pod)
	}
	// KubeRay: desired = clamp(replicas) x hosts; never fewer than the pods
	// (it would delete some at random), create the missing ones.
	for _, g := range m.c.Groups {
		m.spec[g.Name] = p.Replicas[g.Name]
		desired := g.clampReplicas(p.Replicas[g.Name]) * g.Hosts()
		have := 0
		for _, pd := range m.pods {
			if pd.group == g.Name {
				have++
			}
		}
		if have > desired {
			t.Fatalf("round %d: group %s has %d pods, replicas ask for %d", m.round, g.Name, have, desired)
		}
		for ; have < desired; have++ {
			m.seq++
			name := fmt.Sprintf("%s-%04d", g.Name, m.seq)
			m.pods[name] = &simPod{name: name, group: g.Name}
		}
	}
	// Pods register after a random delay.
	for _, name := range slices.Sorted(maps.Keys(m.pods)) {
		if pd := m.pods[name]; !pd.registered && m.rng.IntN(10) < 6 {
			pd.registered, pd.idleSince = true, m.round
		}
	}
	// Ray places queued tasks first fit; tasks finish.
	var left []simTask
	names := slices.Sorted(maps.Keys(m.pods))
	for _, tk := range m.queue {
		placed := false
		for _, name := range names {
			pd := m.pods[name]
			if pd.registered && fitsOn(m.group(pd.group).Resources, m.used(pd), tk.shape) {
				tk.done = m.round + 1 + m.rng.IntN(4)
				pd.tasks = append(pd.tasks, tk)
				placed = true
				break
			}
		}
		if !placed {
			left = append(left, tk)
		}
	}
	m.queue = left
	m.round++
	for _, pd := range m.pods {
		kept := pd.tasks[:0]
		for _, tk := range pd.tasks {
			if tk.done >= m.round {
				kept = append(kept, tk)
			}
		}
		if len(kept) == 0 && len(pd.tasks) > 0 {
			pd.idleSince = m.round
		}
		pd.tasks = kept
	}
	return p
}

func fitsOn(total, used, shape R) bool {
	for k, v := range shape {
		if v > total[k]-used[k]+epsilon {
			return false
		}
	}
	return true
}

// newSim draws a cluster where every task fits some group and no group or
// cluster maximum can bind, so all demand must eventually be placed.
func newSim(t *testing.T, seed uint64) (*sim, [][]simTask) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := &sim{t: t, rng: rng, spec: map[string]int{}, pods: map[string]*simPod{}}
	m.c.IdleTimeout = 10 * time.Second
	m.c.UpscalingSpeed = pick[float64](rng, 1, 1000)
	ng := 1 + rng.IntN(3)
	tasks := 1 + rng.IntN(25)
	minSum := 0
	for i := range ng {
		g := Group{Name: fmt.Sprintf("g%d", i), Resources: R{"CPU": pick[float64](rng, 1, 2, 4)}}
		if rng.IntN(3) == 0 {
			g.Resources["GPU"] = 1
		}
		g.NumOfHosts = pick(rng, 1, 1, 2)
		g.MinReplicas = rng.IntN(2)
		g.MaxReplicas = g.MinReplicas + tasks + rng.IntN(3)
		if rng.IntN(3) == 0 {
			g.IdleTimeout = dur(pick(rng, 0, 7*time.Second, 20*time.Second))
		}
		minSum += g.MinWorkers()
		m.c.Groups = append(m.c.Groups, g)
	}
	if rng.IntN(2) == 0 {
		m.c.MaxWorkers = minSum + 2*tasks + 2
	}
	if rng.IntN(2) == 0 {
		m.foreign = []Pod{{Name: "other-0", Group: "other", Running: true}, {Name: "g0-other", Group: "elsewhere", Running: true}}
	}
	arrivals := make([][]simTask, 1+rng.IntN(10))
	for range tasks {
		g := m.c.Groups[rng.IntN(ng)]
		shape := R{"CPU": pick(rng, 0.5, 1, g.Resources["CPU"])}
		if g.Resources["GPU"] > 0 && rng.IntN(2) == 0 {
			shape["GPU"] = 1
		}
		r := rng.IntN(len(arrivals))
		arrivals[r] = append(arrivals[r], simTask{shape: shape})
	}
	return m, arrivals
}

// Hundreds of demand histories: every round's plan is valid, busy nodes are
// never terminated, pods never exceed replicas, all demand is placed within
// a bounded number of rounds, and the idle cluster shrinks back to its
// minimum.
func TestPropertySimulation(t *testing.T) {
	const settle = 60 // rounds after the last arrival for demand to be placed
	for seed := range uint64(propertyRuns(t, 400)) {
		m, arrivals := newSim(t, seed)
		for m.round < len(arrivals)+settle {
			if m.round < len(arrivals) {
				m.queue = append(m.queue, arrivals[m.round]...)
			}
			m.step(m.round%7 == 0)
		}
		if len(m.queue) > 0 {
			t.Fatalf("seed %d: %d tasks still queued after %d rounds: %v", seed, len(m.queue), m.round, m.queue)
		}
		// Let everything finish and go idle past the timeout.
		for range 20 {
			m.step(false)
		}
		count := map[string]int{}
		for _, pd := range m.pods {
			count[pd.group]++
		}
		for _, g := range m.c.Groups {
			if count[g.Name] != g.MinWorkers() {
				t.Fatalf("seed %d: group %s settles at %d pods, min workers %d", seed, g.Name, count[g.Name], g.MinWorkers())
			}
		}
	}
}

// Reordering never matters, also for the Termination list (sorted by group
// then pod) and the decisions.
func TestPlanOrdering(t *testing.T) {
	w := newWorld(grp("b", R{"CPU": 1}, 0, 5), grp("a", R{"CPU": 1}, 0, 5))
	for _, n := range []string{"z", "y", "x"} {
		w.running("b-"+n, "b", R{"CPU": 1}, time.Hour).running("a-"+n, "a", R{"CPU": 1}, time.Hour)
	}
	p := w.decide()
	var got []string
	for _, tm := range p.Terminate {
		got = append(got, tm.Pod)
	}
	want := []string{"b-x", "b-y", "b-z", "a-x", "a-y", "a-z"}
	if !slices.Equal(got, want) {
		t.Errorf("terminations %v, want %v", got, want)
	}
	if !sort.SliceIsSorted(p.Decisions, func(i, j int) bool { return p.Decisions[i].Group == "b" && p.Decisions[j].Group == "a" }) {
		t.Errorf("decisions %v", p.Decisions)
	}
}
