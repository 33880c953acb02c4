package scaler

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// A cluster is active while a round finds it busy and for activityHold
// after the last such round.
func TestActivityHold(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var a activity
	steps := []struct {
		at   time.Duration
		b    busy
		want bool
	}{
		{0, busy{}, false},
		{time.Second, busy{demand: true}, true},
		{2 * time.Second, busy{}, true},
		{time.Second + activityHold - time.Millisecond, busy{}, true},
		{time.Second + activityHold, busy{}, false},
		{40 * time.Second, busy{launching: true}, true},
		{41 * time.Second, busy{drains: true}, true},
		{42 * time.Second, busy{changed: true}, true},
		{42*time.Second + activityHold, busy{}, false},
	}
	for _, s := range steps {
		if got := a.observe(s.b, t0.Add(s.at)); got != s.want {
			t.Errorf("at %s with %+v: active %t, want %t", s.at, s.b, got, s.want)
		}
	}
}

// Demand is placeable when it is more than what the round found
// infeasible; workers are launching while a group runs fewer pods than it
// asks for.
func TestBusySignals(t *testing.T) {
	one := engine.ShapeCount{Request: engine.Request{Resources: map[string]float64{"CPU": 1}}, Count: 2}
	for _, tc := range []struct {
		name string
		d    Decision
		want bool
	}{
		{"none", Decision{}, false},
		{"pending", Decision{State: engine.State{Pending: []engine.ShapeCount{one}}}, true},
		{"all infeasible", Decision{State: engine.State{Pending: []engine.ShapeCount{one}}, Plan: engine.Plan{Infeasible: engine.Infeasible{Requests: []engine.ShapeCount{one}}}}, false},
		{"a gang", Decision{State: engine.State{Gangs: []engine.Gang{{ID: "g"}}}}, true},
		{"an infeasible gang", Decision{State: engine.State{Gangs: []engine.Gang{{ID: "g"}}}, Plan: engine.Plan{Infeasible: engine.Infeasible{Gangs: []engine.Gang{{ID: "g"}}}}}, false},
	} {
		if got := placeableDemand(tc.d); got != tc.want {
			t.Errorf("%s: placeable %t, want %t", tc.name, got, tc.want)
		}
	}

	rc := twoGroupCluster() // wg: 2 replicas, big: 0
	a, b := *workerPodOf("rc-wg-a", "wg", "10.0.0.3"), *workerPodOf("rc-wg-b", "wg", "10.0.0.4")
	pending := *b.DeepCopy()
	pending.Status.Phase = corev1.PodPending
	leaving := *b.DeepCopy()
	leaving.DeletionTimestamp = ptr.To(metav1.Now())
	listed := twoGroupCluster()
	listed.Spec.WorkerGroupSpecs[0].ScaleStrategy.WorkersToDelete = []string{"rc-wg-b"}
	multiHost := twoGroupCluster()
	multiHost.Spec.WorkerGroupSpecs[0].NumOfHosts = 2
	for _, tc := range []struct {
		name string
		pods []corev1.Pod
		want bool
	}{
		{"all running", []corev1.Pod{a, b}, false},
		{"one pending", []corev1.Pod{a, pending}, true},
		{"one missing", []corev1.Pod{a}, true},
		{"one being deleted", []corev1.Pod{a, leaving}, true},
	} {
		if got := launching(rc, tc.pods); got != tc.want {
			t.Errorf("%s: launching %t, want %t", tc.name, got, tc.want)
		}
	}
	if !launching(listed, []corev1.Pod{a, b}) {
		t.Error("a running pod listed in workersToDelete counted as one of the replicas")
	}
	if !launching(multiHost, []corev1.Pod{a, b}) {
		t.Error("2 replicas of 2 hosts each running on 2 pods: not launching")
	}
}

// The budget lets through at most its rate of fast rounds per second, a
// second's worth at once, and refills with time.
func TestFastBudget(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	b := newFastBudget(10)
	taken := func(now time.Time, n int) int {
		got := 0
		for range n {
			if b.take(now) {
				got++
			}
		}
		return got
	}
	if n := taken(t0, 50); n != 10 {
		t.Errorf("a burst took %d fast rounds, want 10", n)
	}
	if n := taken(t0.Add(500*time.Millisecond), 50); n != 5 {
		t.Errorf("half a second later %d, want 5", n)
	}
	if n := taken(t0.Add(time.Minute), 50); n != 10 {
		t.Errorf("after a long pause %d, want 10 (one second's worth)", n)
	}
	if n := taken(t0.Add(30*time.Second), 5); n != 0 {
		t.Errorf("a clock going back gave %d, want 0", n)
	}
}

// pace: an active cluster runs at the active interval while the budget
// allows, then at the interval; the gauge counts the active clusters.
func TestPace(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Interval: time.Second, ActiveInterval: 250 * time.Millisecond, fast: newFastBudget(2), metrics: m}
	now := time.Unix(1700000000, 0)
	idle, busy1, busy2, busy3 := &clusterMemory{}, &clusterMemory{}, &clusterMemory{}, &clusterMemory{}
	if d := r.pace(idle, busy{}, now); d != time.Second {
		t.Errorf("idle cluster: next round in %s, want the interval", d)
	}
	for i, mem := range []*clusterMemory{busy1, busy2, busy3} {
		want := 250 * time.Millisecond
		if i == 2 {
			want = time.Second // past the budget of 2 a second
		}
		if d := r.pace(mem, busy{demand: true}, now); d != want {
			t.Errorf("busy cluster %d: next round in %s, want %s", i+1, d, want)
		}
	}
	if g := series(t, m.active)[""]; g != 3 {
		t.Errorf("active clusters gauge %g, want 3", g)
	}
	r.pace(busy1, busy{}, now.Add(activityHold))
	if g := series(t, m.active)[""]; g != 2 {
		t.Errorf("active clusters gauge %g after one went idle, want 2", g)
	}
	r.ActiveInterval = 0
	if d := r.pace(busy2, busy{demand: true}, now.Add(2*activityHold)); d != time.Second {
		t.Errorf("no active interval: next round in %s, want the interval", d)
	}
}

// Through a round: a cluster with demand is polled again at the active
// interval, one without at the interval.
func TestRoundPacesActiveClusters(t *testing.T) {
	idle := pendingState()
	idle.PendingResourceRequests = nil
	for _, tc := range []struct {
		name  string
		state *rpcpb.ClusterResourceState
		want  time.Duration
	}{{"demand", pendingState(), 250 * time.Millisecond}, {"idle", idle, time.Second}} {
		h := newReconcileHarness(t, tc.state, interceptor.Funcs{}, inTreeTestCluster(false), headPod("rc-head", false))
		h.r.ActiveInterval = 250 * time.Millisecond
		if res := h.round(); res.RequeueAfter != tc.want {
			t.Errorf("%s: next round in %s, want %s", tc.name, res.RequeueAfter, tc.want)
		}
	}
}
