package raysim

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

func mustSelector(t *testing.T, m map[string]string) labelSelector {
	t.Helper()
	s, err := parseLabelSelector(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Ray's selector syntax and matching semantics.
func TestLabelSelectorParseAndMatch(t *testing.T) {
	sel := mustSelector(t, map[string]string{
		"ray.io/accelerator-type": "in(A100,H100)",
		"market":                  "!spot",
		"zone":                    "us-east1-b",
		"tier":                    "!in(free,trial)",
	})
	p := sel.proto()
	if len(p.LabelConstraints) != 4 || p.LabelConstraints[0].LabelKey != "market" ||
		p.LabelConstraints[0].Operator != rpcpb.LabelSelectorOperator_LABEL_OPERATOR_NOT_IN ||
		strings.Join(p.LabelConstraints[1].LabelValues, ",") != "A100,H100" {
		t.Fatalf("proto = %v", p)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"ray.io/accelerator-type": "A100", "zone": "us-east1-b"}, true}, // NOT_IN met by missing keys
		{map[string]string{"ray.io/accelerator-type": "H100", "zone": "us-east1-b", "market": "on-demand", "tier": "paid"}, true},
		{map[string]string{"ray.io/accelerator-type": "T4", "zone": "us-east1-b"}, false},
		{map[string]string{"zone": "us-east1-b"}, false}, // IN needs the key
		{map[string]string{"ray.io/accelerator-type": "A100", "zone": "us-east1-b", "market": "spot"}, false},
		{map[string]string{"ray.io/accelerator-type": "A100", "zone": "us-east1-b", "tier": "trial"}, false},
	} {
		if got := sel.matches(tc.labels); got != tc.want {
			t.Errorf("matches(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if !(labelSelector(nil)).matches(nil) {
		t.Error("the empty selector must match every node")
	}
	if _, err := parseLabelSelector(map[string]string{"": "x"}); err == nil {
		t.Error("an empty key was accepted")
	}
}

// A node's labels: Ray's defaults from the environment, --labels, the
// override, and ray.io/node-id.
func TestNodeLabelsFromPod(t *testing.T) {
	p := withEnv(pod("w-1", "gpu-group", "worker", "2"),
		corev1.EnvVar{Name: "RAY_NODE_TYPE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['ray.io/group']"}}},
		corev1.EnvVar{Name: "RAY_NODE_ZONE", Value: "us-east1-b"},
		corev1.EnvVar{Name: "RAY_NODE_MARKET_TYPE", Value: "spot"},
		corev1.EnvVar{Name: "RAY_OVERRIDE_LABELS", Value: `{"team":"ml"}`},
	)
	p.Spec.Containers[0].Env[0].Value += " --labels=ray.io/accelerator-type=A100,disk=ssd"
	id := nodeID(string(p.UID))
	got := nodeLabels(p, id, nil)
	want := map[string]string{
		labelNodeGroup: "gpu-group", labelZone: "us-east1-b", labelMarketType: "spot",
		"ray.io/accelerator-type": "A100", "disk": "ssd", "team": "ml", labelNodeID: hex.EncodeToString(id),
	}
	if len(got) != len(want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
}

// gpuPod is a worker whose raylet has the label accelerator=<acc>.
func gpuPod(name, acc string) *corev1.Pod {
	p := pod(name, "g-"+acc, "worker", "4")
	p.Spec.Containers[0].Env[0].Value += " --labels=accelerator=" + acc
	return p
}

// Pending requests carry their label selector (one per request, empty when
// the work has none), grouped by shape and selector; placement honours it.
func TestLabelSelectorsOnTasksAndActors(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("w-1", "T4")})
	c := s.cluster("ns", "c")
	a100 := mustSelector(t, map[string]string{"accelerator": "A100"})
	for _, it := range []*item{
		{kind: kindTask, bundles: []map[string]float64{{"CPU": 1}}, selectors: []labelSelector{a100}, duration: time.Hour},
		{kind: kindTask, bundles: []map[string]float64{{"CPU": 1}}, selectors: []labelSelector{a100}, duration: time.Hour},
		{kind: kindActor, name: "needs-t4", bundles: []map[string]float64{{"CPU": 1}},
			selectors: []labelSelector{mustSelector(t, map[string]string{"accelerator": "T4"})}},
	} {
		if err := c.addItem(it, clk.t); err != nil {
			t.Fatal(err)
		}
	}
	st := c.snapshot(clk.t)
	if len(st.PendingResourceRequests) != 1 || st.PendingResourceRequests[0].Count != 2 {
		t.Fatalf("pending = %v, want the two A100 tasks (the T4 actor runs)", st.PendingResourceRequests)
	}
	sel := st.PendingResourceRequests[0].Request.LabelSelectors
	if len(sel) != 1 || sel[0].LabelConstraints[0].LabelKey != "accelerator" || sel[0].LabelConstraints[0].LabelValues[0] != "A100" {
		t.Errorf("pending selector = %v", sel)
	}
	if a := c.actorViews()[0]; a.Node != "w-1" {
		t.Errorf("T4 actor on %q, want w-1", a.Node)
	}
	// Without a selector: one empty selector, as the raylet reports it.
	_ = c.addItem(&item{kind: kindTask, bundles: []map[string]float64{{"CPU": 8}}, duration: time.Hour}, clk.t)
	st = c.snapshot(clk.t)
	if last := st.PendingResourceRequests[1].Request; len(last.LabelSelectors) != 1 || len(last.LabelSelectors[0].LabelConstraints) != 0 {
		t.Errorf("request without a selector = %v, want one empty selector", last)
	}
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("w-1", "T4"), gpuPod("w-2", "A100")})
	if st = c.snapshot(clk.t); len(st.PendingResourceRequests) != 1 {
		t.Errorf("an A100 node joined: pending %v, want only the 8-CPU task", st.PendingResourceRequests)
	}
}

// Placement groups as the GCS reports them: legacy requests without
// selectors, bundle_selectors[0] with them, affinity for STRICT_PACK,
// details "<id>:<STRATEGY>|<STATE>"; nodes carry _PG_<id> for the groups
// placed on them; a node's death reschedules only the bundles it held.
func TestPlacementGroupLabelsAndRescheduling(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("t-1", "T4")})
	c := s.cluster("ns", "c")
	it, err := placementGroupItem(placementGroupRequest{Name: "pg", Strategy: "STRICT_PACK",
		Bundles:              []map[string]float64{{"CPU": 1}, {"CPU": 1}},
		BundleLabelSelectors: []map[string]string{{"accelerator": "A100"}, {}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.addItem(it, clk.t)
	st := c.snapshot(clk.t)
	if len(st.PendingGangResourceRequests) != 1 {
		t.Fatalf("gangs = %v", st.PendingGangResourceRequests)
	}
	g := st.PendingGangResourceRequests[0]
	id := hex.EncodeToString(placementGroupID("ns", "c", "pg"))
	if g.Details != id+":STRICT_PACK|PENDING" || len(id) != 36 {
		t.Errorf("details = %q", g.Details)
	}
	for _, r := range g.Requests {
		if len(r.LabelSelectors) != 0 || r.PlacementConstraints[0].Affinity.LabelName != "_PG_"+id {
			t.Errorf("legacy request %v: no selector, affinity on _PG_<id>", r)
		}
	}
	bs := g.BundleSelectors[0].ResourceRequests
	if len(g.BundleSelectors) != 1 || len(bs) != 2 || len(bs[0].LabelSelectors) != 1 || len(bs[1].LabelSelectors) != 0 ||
		bs[0].PlacementConstraints[0].Affinity.LabelName != "_PG_"+id {
		t.Errorf("bundle selector = %v", g.BundleSelectors)
	}

	// STRICT_SPREAD on two A100 nodes: placed, and rescheduled bundle by
	// bundle when a node dies.
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("a-1", "A100"), gpuPod("a-2", "A100")})
	c.removeItem(kindPG, "pg", clk.t)
	spread, _ := placementGroupItem(placementGroupRequest{Name: "sp", Strategy: "STRICT_SPREAD",
		Bundles: []map[string]float64{{"CPU": 1}, {"CPU": 1}}, BundleLabelSelectors: []map[string]string{{"accelerator": "A100"}, {"accelerator": "A100"}}})
	_ = c.addItem(spread, clk.t)
	clk.add(time.Second)
	st = c.snapshot(clk.t)
	spID := hex.EncodeToString(placementGroupID("ns", "c", "sp"))
	for _, p := range []string{"a-1", "a-2"} {
		if n := nodeByPod(st, p); n.DynamicLabels["_PG_"+spID] != "" || len(n.DynamicLabels) != 1 {
			t.Errorf("node %s dynamic labels %v, want _PG_%s", p, n.DynamicLabels, spID)
		}
	}
	if len(st.PendingGangResourceRequests) != 0 {
		t.Fatalf("placed group still pending: %v", st.PendingGangResourceRequests)
	}
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("a-1", "A100")})
	st = c.snapshot(clk.t)
	if len(st.PendingGangResourceRequests) != 1 {
		t.Fatalf("after a node died: %v", st.PendingGangResourceRequests)
	}
	g = st.PendingGangResourceRequests[0]
	if g.Details != spID+":STRICT_SPREAD|RESCHEDULING" || len(g.Requests) != 1 || g.Requests[0].PlacementConstraints[0].AntiAffinity == nil {
		t.Errorf("rescheduling group = %v, want only the lost bundle with anti-affinity", g)
	}
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("a-1", "A100"), gpuPod("t-3", "T4")})
	if n := len(c.snapshot(clk.t).PendingGangResourceRequests); n != 1 {
		t.Errorf("a T4 node cannot take the A100 bundle: %d pending groups, want 1", n)
	}
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("a-1", "A100"), gpuPod("t-3", "T4"), gpuPod("a-4", "A100")})
	pgs := c.placementGroupViews()
	if pgs[0].State != pgCreated || pgs[0].Bundles[0].Node != "a-1" || pgs[0].Bundles[1].Node != "a-4" {
		t.Errorf("rescheduled group = %+v", pgs[0])
	}
}
