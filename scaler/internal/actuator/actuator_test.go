package actuator_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

const (
	ns        = "ml"
	rcName    = "rc"
	rcVersion = "42"
)

// events records what the fakes saw, in order, so a test can check that
// drains come before the patch.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// fakePatcher records every patch and answers with err.
type fakePatcher struct {
	ev      *events
	err     error
	mu      sync.Mutex
	patches []sentPatch
}

type sentPatch struct {
	key  types.NamespacedName
	typ  types.PatchType
	data []byte
}

func (f *fakePatcher) Patch(_ context.Context, obj client.Object, patch client.Patch, _ ...client.PatchOption) error {
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.patches = append(f.patches, sentPatch{key: client.ObjectKeyFromObject(obj), typ: patch.Type(), data: data})
	f.mu.Unlock()
	f.ev.add("patch")
	return f.err
}

func (f *fakePatcher) sent() []sentPatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.patches)
}

// fakeDrainer accepts every drain except those of the node ids (hex) in
// reject, fails the calls for the node ids in fail, and fails every call
// with err when set. It records DrainNode calls with their reason and
// StopNode calls with reason stopCall.
type fakeDrainer struct {
	ev     *events
	reject map[string]string
	fail   map[string]error
	err    error
	mu     sync.Mutex
	calls  []drainCall
}

// stopCall marks a NodeInfoGcsService.DrainNode (StopNode) call among the
// recorded calls; no DrainNodeReason has this number.
const stopCall rpcpb.DrainNodeReason = -1

type drainCall struct {
	node    string // hex
	reason  rpcpb.DrainNodeReason
	message string
}

func (f *fakeDrainer) record(c drainCall) error {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	f.ev.add("drain " + c.node)
	if f.err != nil {
		return f.err
	}
	return f.fail[c.node]
}

func (f *fakeDrainer) DrainNode(_ context.Context, nodeID []byte, reason rpcpb.DrainNodeReason, message string, _ time.Time) (bool, string, error) {
	id := hex.EncodeToString(nodeID)
	if err := f.record(drainCall{node: id, reason: reason, message: message}); err != nil {
		return false, "", err
	}
	if why, ok := f.reject[id]; ok {
		return false, why, nil
	}
	return true, "", nil
}

func (f *fakeDrainer) StopNode(_ context.Context, nodeID []byte) (bool, error) {
	id := hex.EncodeToString(nodeID)
	if err := f.record(drainCall{node: id, reason: stopCall, message: "raypilot: stop"}); err != nil {
		return false, err
	}
	_, rejected := f.reject[id]
	return !rejected, nil
}

// drained returns the calls by node id: drains run concurrently, so their
// order is not part of the contract.
func (f *fakeDrainer) drained() []drainCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	slices.SortStableFunc(out, func(a, b drainCall) int { return strings.Compare(a.node, b.node) })
	return out
}

// group is a worker group; a negative min or max leaves the bound unset.
func group(name string, replicas, minR, maxR int32, workersToDelete ...string) rayv1.WorkerGroupSpec {
	g := rayv1.WorkerGroupSpec{GroupName: name, Replicas: ptr(replicas)}
	if minR >= 0 {
		g.MinReplicas = ptr(minR)
	}
	if maxR >= 0 {
		g.MaxReplicas = ptr(maxR)
	}
	g.ScaleStrategy.WorkersToDelete = workersToDelete
	return g
}

func rayCluster(groups ...rayv1.WorkerGroupSpec) *rayv1.RayCluster {
	rc := &rayv1.RayCluster{}
	rc.Name, rc.Namespace, rc.ResourceVersion = rcName, ns, rcVersion
	rc.Spec.WorkerGroupSpecs = groups
	return rc
}

// workerPod is a worker pod as KubeRay labels it.
func workerPod(name, cluster, grp string) corev1.Pod {
	p := corev1.Pod{}
	p.Name, p.Namespace = name, ns
	p.Labels = map[string]string{"ray.io/cluster": cluster, "ray.io/group": grp, "ray.io/node-type": "worker"}
	p.Status.Phase = corev1.PodRunning
	return p
}

func inNamespace(p corev1.Pod, namespace string) corev1.Pod {
	p.Namespace = namespace
	return p
}

func pods(names ...string) []corev1.Pod {
	var out []corev1.Pod
	for _, n := range names {
		grp, _, _ := strings.Cut(n, "-")
		out = append(out, workerPod(n, rcName, grp))
	}
	return out
}

func idle(pod, nodeID string) engine.Termination {
	grp, _, _ := strings.Cut(pod, "-")
	return engine.Termination{Pod: pod, Group: grp, NodeID: nodeID, Cause: engine.CauseIdle, Drain: true}
}

func podNames(rs []actuator.Removal) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Pod)
	}
	return out
}

func skippedNames(ts []engine.Termination) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Pod)
	}
	return out
}

func TestApply(t *testing.T) {
	type drain struct {
		node   string
		reason rpcpb.DrainNodeReason
	}
	const (
		idleReason = rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION
	)
	tests := []struct {
		name   string
		rc     *rayv1.RayCluster
		pods   []corev1.Pod
		plan   engine.Plan
		reject map[string]string // node id → Ray's rejection

		wantDrains   []drain
		wantPatch    string // "" means no patch is sent
		wantRemoved  []string
		wantRejected map[string]string
		wantSkipped  []string
	}{
		{
			name: "idle node: drained, then listed and replicas lowered in one patch",
			rc:   rayCluster(group("cpu", 3, 0, 5)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("cpu-b", "0b0b")},
				Replicas:  map[string]int{"cpu": 2},
			},
			wantDrains: []drain{{"0b0b", idleReason}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
			]`,
			wantRemoved: []string{"cpu-b"},
		},
		{
			name: "a surplus node is stopped as Ray's autoscaler stops it, never preempted",
			rc:   rayCluster(group("cpu", 3, 0, 2)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{
				Terminate: []engine.Termination{{Pod: "cpu-c", Group: "cpu", NodeID: "0c0c", Cause: engine.CauseMaxPerType, Drain: true}},
				Replicas:  map[string]int{"cpu": 2},
			},
			wantDrains: []drain{{"0c0c", stopCall}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-c"]}}
			]`,
			wantRemoved: []string{"cpu-c"},
		},
		{
			name: "the only drain rejected: nothing to patch",
			rc:   rayCluster(group("cpu", 3, 0, 5)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("cpu-a", "0a0a")},
				Replicas:  map[string]int{"cpu": 2},
			},
			reject:       map[string]string{"0a0a": "node is busy"},
			wantDrains:   []drain{{"0a0a", idleReason}},
			wantRejected: map[string]string{"cpu-a": "node is busy"},
		},
		{
			name: "one drain of two rejected: its pod stays and keeps its replica",
			rc:   rayCluster(group("cpu", 3, 0, 5)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("cpu-a", "0a0a"), idle("cpu-b", "0b0b")},
				Replicas:  map[string]int{"cpu": 1},
			},
			reject:     map[string]string{"0a0a": "node is busy"},
			wantDrains: []drain{{"0a0a", idleReason}, {"0b0b", idleReason}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
			]`,
			wantRemoved:  []string{"cpu-b"},
			wantRejected: map[string]string{"cpu-a": "node is busy"},
		},
		{
			name: "pods that cannot be verified are never drained nor listed",
			rc: rayCluster(
				group("cpu", 8, 0, 10),
				group("gpu", 1, 0, 10),
			),
			pods: append(pods("cpu-a", "gpu-a", "headgroup-x"),
				workerPod("cpu-other", "other-cluster", "cpu"),
				workerPod("cpu-unlabelled", "", ""),
				inNamespace(workerPod("cpu-elsewhere", rcName, "cpu"), "default"),
			),
			plan: engine.Plan{
				Terminate: []engine.Termination{
					idle("cpu-a", "0a0a"),
					idle("cpu-other", "0101"),                                    // another cluster's pod
					{Pod: "gpu-a", Group: "cpu", NodeID: "0202", Drain: true},    // a pod of another group
					idle("cpu-elsewhere", "0303"),                                // another namespace
					idle("cpu-unlabelled", "0404"),                               // no labels at all
					idle("cpu-gone", "0505"),                                     // not in the pod list
					{Pod: "headgroup-x", Group: "headgroup", NodeID: "0606"},     // not a worker group
					{Pod: "cpu-a", Group: "cpu", NodeID: "not-hex", Drain: true}, // a node id that is not hex
				},
				Replicas: map[string]int{"cpu": 1, "gpu": 1},
			},
			wantDrains: []drain{{"0a0a", idleReason}},
			// Six terminations in cpu did not happen: 1+6 replicas.
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 7},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-a"]}}
			]`,
			wantRemoved: []string{"cpu-a"},
			wantSkipped: []string{"cpu-other", "gpu-a", "cpu-elsewhere", "cpu-unlabelled", "cpu-gone", "headgroup-x", "cpu-a"},
		},
		{
			name: "pods without a Ray node are listed without a drain",
			rc:   rayCluster(group("cpu", 4, 0, 5)),
			pods: pods("cpu-a", "cpu-b", "cpu-c", "cpu-d"),
			plan: engine.Plan{
				Terminate: []engine.Termination{
					{Pod: "cpu-a", Group: "cpu", NodeID: "0a0a", Cause: engine.CauseRayStopped},
					{Pod: "cpu-b", Group: "cpu", Cause: engine.CauseAllocationTimeout, Drain: true},
				},
				Replicas: map[string]int{"cpu": 2},
			},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-a", "cpu-b"]}}
			]`,
			wantRemoved: []string{"cpu-a", "cpu-b"},
		},
		{
			name: "names of deleted pods are dropped, names of live pods kept",
			rc:   rayCluster(group("cpu", 2, 0, 5, "cpu-gone", "cpu-b")),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
			]`,
		},
		{
			name: "a list whose pods are all gone is cleared",
			rc: rayCluster(
				group("cpu", 2, 0, 5),
				group("gpu", 1, 0, 5, "gpu-old1", "gpu-old2"),
			),
			pods: pods("cpu-a", "cpu-b", "gpu-a"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2, "gpu": 1}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
				{"op": "add", "path": "/spec/workerGroupSpecs/1/scaleStrategy", "value": {"workersToDelete": []}}
			]`,
		},
		{
			// KubeRay deletes listed names without checking ownership, so
			// a name that is not this group's pod is never written back.
			name: "listed names of other groups' and clusters' pods are dropped",
			rc:   rayCluster(group("cpu", 2, 0, 5, "gpu-a", "cpu-b", "cpu-other", "cpu-elsewhere")),
			pods: append(pods("cpu-a", "cpu-b", "gpu-a"),
				workerPod("cpu-other", "other-cluster", "cpu"),
				inNamespace(workerPod("cpu-elsewhere", rcName, "cpu"), "default"),
			),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
			]`,
		},
		{
			name: "a list whose pods all still exist is left alone",
			rc:   rayCluster(group("cpu", 2, 0, 5, "cpu-c")),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2}},
		},
		{
			name: "new names join the live old ones; the gone ones leave",
			rc:   rayCluster(group("cpu", 3, 0, 5, "cpu-c", "cpu-gone")),
			pods: pods("cpu-a", "cpu-b", "cpu-c", "cpu-d"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("cpu-a", "0a0a")},
				Replicas:  map[string]int{"cpu": 2},
			},
			wantDrains: []drain{{"0a0a", idleReason}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-a", "cpu-c"]}}
			]`,
			wantRemoved: []string{"cpu-a"},
		},
		{
			name: "a launch only touches replicas",
			rc:   rayCluster(group("cpu", 1, 0, 5), group("gpu", 0, 0, 2)),
			pods: pods("cpu-a"),
			plan: engine.Plan{Launch: map[string]int{"gpu": 2}, Replicas: map[string]int{"cpu": 1, "gpu": 2}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/1/replicas", "value": 2}
			]`,
		},
		{
			name: "replicas are clamped to maxReplicas",
			rc:   rayCluster(group("cpu", 2, 1, 3)),
			pods: pods("cpu-a", "cpu-b"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 9}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 3}
			]`,
		},
		{
			name: "replicas are clamped to minReplicas",
			rc:   rayCluster(group("cpu", 2, 1, 3)),
			pods: pods("cpu-a", "cpu-b"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 0}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1}
			]`,
		},
		{
			name: "a rejected drain does not push replicas above maxReplicas",
			rc:   rayCluster(group("cpu", 3, 0, 3)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("cpu-a", "0a0a"), idle("cpu-b", "0b0b")},
				Replicas:  map[string]int{"cpu": 3},
			},
			reject:       map[string]string{"0a0a": "busy"},
			wantDrains:   []drain{{"0a0a", idleReason}, {"0b0b", idleReason}},
			wantRemoved:  []string{"cpu-b"},
			wantRejected: map[string]string{"cpu-a": "busy"},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
			]`,
		},
		{
			// KubeRay (and the engine) use maxReplicas when the bounds are
			// inverted; writing minReplicas would exceed maxReplicas.
			name: "inverted bounds: maxReplicas wins",
			rc:   rayCluster(group("cpu", 3, 4, 2)),
			pods: pods("cpu-a", "cpu-b", "cpu-c"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}
			]`,
		},
		{
			name: "absent replicas are written",
			rc: func() *rayv1.RayCluster {
				rc := rayCluster(group("cpu", 0, 0, 5))
				rc.Spec.WorkerGroupSpecs[0].Replicas = nil
				return rc
			}(),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 0}},
			wantPatch: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 0}
			]`,
		},
		{
			name: "nothing to do: no patch",
			rc:   rayCluster(group("cpu", 2, 0, 5), group("gpu", 0, 0, 5)),
			pods: pods("cpu-a", "cpu-b"),
			plan: engine.Plan{Replicas: map[string]int{"cpu": 2, "gpu": 0}},
		},
		{
			// With numOfHosts 2 a replica is two pods: a whole replica whose
			// drains were refused is one replica back, not two.
			name: "multi-host: a refused replica adds one replica",
			rc: func() *rayv1.RayCluster {
				rc := rayCluster(group("tpu", 2, 0, 4))
				rc.Spec.WorkerGroupSpecs[0].NumOfHosts = 2
				return rc
			}(),
			pods: pods("tpu-a0", "tpu-a1", "tpu-b0", "tpu-b1"),
			plan: engine.Plan{
				Terminate: []engine.Termination{idle("tpu-a0", "a0"), idle("tpu-a1", "a1")},
				Replicas:  map[string]int{"tpu": 1},
			},
			reject:       map[string]string{"a0": "busy", "a1": "busy"},
			wantDrains:   []drain{{"a0", idleReason}, {"a1", idleReason}},
			wantRejected: map[string]string{"tpu-a0": "busy", "tpu-a1": "busy"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{}
			k := &fakePatcher{ev: ev}
			gcs := &fakeDrainer{ev: ev, reject: tc.reject}
			res, err := actuator.Apply(context.Background(), k, gcs, tc.rc, tc.pods, tc.plan, nil)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}

			var drains []drain
			for _, c := range gcs.drained() {
				drains = append(drains, drain{c.node, c.reason})
			}
			if !slices.Equal(drains, tc.wantDrains) {
				t.Errorf("drains = %v, want %v", drains, tc.wantDrains)
			}
			for _, c := range gcs.drained() {
				if !strings.HasPrefix(c.message, "raypilot: ") {
					t.Errorf("drain message %q does not say who drains", c.message)
				}
			}

			sent := k.sent()
			if tc.wantPatch == "" {
				if len(sent) != 0 || res.Patched {
					t.Fatalf("want no patch, sent %d (Patched %v): %s", len(sent), res.Patched, sent[0].data)
				}
			} else {
				if len(sent) != 1 || !res.Patched {
					t.Fatalf("want exactly one patch, sent %d (Patched %v)", len(sent), res.Patched)
				}
				if want := (types.NamespacedName{Namespace: ns, Name: rcName}); sent[0].key != want || sent[0].typ != types.JSONPatchType {
					t.Errorf("patched %v with %s, want %v with %s", sent[0].key, sent[0].typ, want, types.JSONPatchType)
				}
				sameJSON(t, sent[0].data, tc.wantPatch)
				if log := ev.list(); log[len(log)-1] != "patch" {
					t.Errorf("the patch must come after every drain: %v", log)
				}
			}

			if got := podNames(res.Removed); !slices.Equal(got, tc.wantRemoved) {
				t.Errorf("Removed = %v, want %v", got, tc.wantRemoved)
			}
			rejected := map[string]string{}
			for _, r := range res.Rejected {
				rejected[r.Pod] = r.Rejected
			}
			if len(rejected) != len(tc.wantRejected) {
				t.Errorf("Rejected = %v, want %v", rejected, tc.wantRejected)
			}
			for pod, why := range tc.wantRejected {
				if rejected[pod] != why {
					t.Errorf("Rejected[%s] = %q, want %q", pod, rejected[pod], why)
				}
			}
			if got := skippedNames(res.Skipped); !slices.Equal(got, tc.wantSkipped) {
				t.Errorf("Skipped = %v, want %v", got, tc.wantSkipped)
			}
		})
	}
}

func TestApplyPatchErrors(t *testing.T) {
	gr := schema.GroupResource{Group: "ray.io", Resource: "rayclusters"}
	gk := schema.GroupKind{Group: "ray.io", Kind: "RayCluster"}
	webhookDenial := func(code int32) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure,
			Code:   code,
			Reason: metav1.StatusReasonInvalid,
			Message: `admission webhook "validate.ray.io" denied the request: ` +
				`RayCluster.ray.io "rc" is invalid: spec.workerGroupSpecs[0].replicas: Invalid value: 9: exceeds policy`,
		}}
	}
	tests := []struct {
		name     string
		err      error
		conflict bool
	}{
		{"optimistic-lock conflict", apierrors.NewConflict(gr, rcName, errors.New("the object has been modified")), true},
		{
			// What the API server answers when a JSON-patch test op fails.
			"failed test op (generic 422)",
			apierrors.NewGenericServerResponse(422, "", schema.GroupResource{}, "", "testing value /metadata/resourceVersion failed: test failed", 0, false),
			true,
		},
		{
			"failed test op (invalid)",
			apierrors.NewInvalid(gk, rcName, field.ErrorList{field.Invalid(field.NewPath("spec", "workerGroupSpecs").Index(1).Child("groupName"), "gpu", "test operation failed")}),
			true,
		},
		{
			"schema refusal (422 naming a field)",
			apierrors.NewInvalid(gk, rcName, field.ErrorList{field.Invalid(field.NewPath("spec", "workerGroupSpecs").Index(0).Child("replicas"), -1, "must be >= 0")}),
			false,
		},
		{"admission webhook denial (422)", webhookDenial(422), false},
		{"admission webhook denial (403)", webhookDenial(403), false},
		{"forbidden", apierrors.NewForbidden(gr, rcName, errors.New("no RBAC")), false},
		{"not found", apierrors.NewNotFound(gr, rcName), false},
		{"transport error", errors.New("connection refused"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{}
			k := &fakePatcher{ev: ev, err: tc.err}
			gcs := &fakeDrainer{ev: ev}
			rc := rayCluster(group("cpu", 2, 0, 5))
			plan := engine.Plan{Terminate: []engine.Termination{idle("cpu-a", "0a0a")}, Replicas: map[string]int{"cpu": 1}}
			res, err := actuator.Apply(context.Background(), k, gcs, rc, pods("cpu-a", "cpu-b"), plan, nil)
			if err == nil {
				t.Fatal("Apply hid the patch error")
			}
			if len(k.sent()) != 1 {
				t.Fatalf("sent %d patches, want 1", len(k.sent()))
			}
			if res == nil || res.Patched {
				t.Errorf("Result must say nothing was patched: %+v", res)
			}
			if got := errors.Is(err, actuator.ErrConflict); got != tc.conflict {
				t.Errorf("errors.Is(%v, ErrConflict) = %v, want %v", err, got, tc.conflict)
			}
			if got := errors.Is(err, actuator.ErrPatch); got == tc.conflict {
				t.Errorf("errors.Is(%v, ErrPatch) = %v, want %v", err, got, !tc.conflict)
			}
		})
	}
}

// TestApplyProperties runs Apply on random plans over a cluster whose pod
// list also holds pods of other clusters, groups and namespaces, and checks
// what reaches the API server: every listed name is a verified pod of the
// group it is listed in, every replicas value is within the group's bounds
// and accounts for every termination that did not happen, and the patch
// applies to the RayCluster it was made from.
func TestApplyProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	groups := []string{"cpu", "gpu", "mem"}
	var patched, listed, rejected, skipped int // coverage of the generator
	for iter := range 400 {
		// The cluster.
		var specs []rayv1.WorkerGroupSpec
		var all []corev1.Pod
		var names []string // every pod name plus some that no longer exist
		for _, g := range groups {
			lo := int32(rng.IntN(3))
			hi := lo + int32(rng.IntN(5))
			if rng.IntN(10) == 0 {
				lo, hi = hi+1, lo // inverted bounds
			}
			n := rng.IntN(6)
			specs = append(specs, group(g, int32(n), lo, hi))
			for i := range n {
				all = append(all, workerPod(fmt.Sprintf("%s-%d", g, i), rcName, g))
			}
			names = append(names, fmt.Sprintf("%s-gone", g))
		}
		for i := range rng.IntN(4) {
			g := groups[rng.IntN(len(groups))]
			switch rng.IntN(4) {
			case 0:
				all = append(all, workerPod(fmt.Sprintf("other-%d", i), "other", g))
			case 1:
				all = append(all, inNamespace(workerPod(fmt.Sprintf("elsewhere-%d", i), rcName, g), "default"))
			case 2:
				all = append(all, workerPod(fmt.Sprintf("ghost-%d", i), rcName, "ghost"))
			case 3:
				all = append(all, workerPod(fmt.Sprintf("nolabel-%d", i), "", ""))
			}
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, p := range all {
			names = append(names, p.Name)
		}
		// Earlier decisions: any name may already be listed.
		for i := range specs {
			for range rng.IntN(3) {
				specs[i].ScaleStrategy.WorkersToDelete = append(specs[i].ScaleStrategy.WorkersToDelete, names[rng.IntN(len(names))])
			}
		}
		rc := rayCluster(specs...)

		// The plan and Ray's answers.
		plan := engine.Plan{Replicas: map[string]int{}}
		reject := map[string]string{}
		for i := range rng.IntN(6) {
			term := engine.Termination{
				Pod:    names[rng.IntN(len(names))],
				Group:  groups[rng.IntN(len(groups))],
				Cause:  engine.CauseIdle,
				Drain:  rng.IntN(4) > 0,
				NodeID: fmt.Sprintf("%04x", i),
			}
			if len(all) > 0 && rng.IntN(3) > 0 {
				// Mostly a listed pod, in the group its label names.
				p := all[rng.IntN(len(all))]
				term.Pod, term.Group = p.Name, p.Labels["ray.io/group"]
			}
			if rng.IntN(5) == 0 {
				term.NodeID = ""
			}
			if rng.IntN(3) == 0 {
				reject[term.NodeID] = "busy"
			}
			plan.Terminate = append(plan.Terminate, term)
		}
		for _, g := range groups {
			if rng.IntN(5) > 0 {
				plan.Replicas[g] = rng.IntN(9) - 2
			}
		}

		ev := &events{}
		k := &fakePatcher{ev: ev}
		gcs := &fakeDrainer{ev: ev, reject: reject}
		res, err := actuator.Apply(context.Background(), k, gcs, rc, all, plan, nil)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		where := fmt.Sprintf("iteration %d\ngroups %s\nterminate %+v\nreplicas %v\nrejected %v", iter, describe(specs), plan.Terminate, plan.Replicas, reject)
		checkApply(t, where, rc, all, plan, res, gcs, k)
		if t.Failed() {
			return
		}
		if res.Patched {
			patched++
		}
		if len(res.Removed) > 0 {
			listed++
		}
		rejected += len(res.Rejected)
		skipped += len(res.Skipped)
	}
	if patched < 200 || listed < 100 || rejected < 50 || skipped < 200 {
		t.Errorf("the generator is too tame: %d patches, %d with removals, %d rejected, %d skipped", patched, listed, rejected, skipped)
	}
	t.Logf("%d patches, %d with removals, %d rejected, %d skipped", patched, listed, rejected, skipped)
}

func describe(specs []rayv1.WorkerGroupSpec) string {
	var parts []string
	for _, g := range specs {
		parts = append(parts, fmt.Sprintf("%s{replicas %d in [%d, %d], workersToDelete %q}",
			g.GroupName, *g.Replicas, *g.MinReplicas, *g.MaxReplicas, g.ScaleStrategy.WorkersToDelete))
	}
	return strings.Join(parts, " ")
}

func checkApply(t *testing.T, where string, rc *rayv1.RayCluster, all []corev1.Pod, plan engine.Plan, res *actuator.Result, gcs *fakeDrainer, k *fakePatcher) {
	t.Helper()
	verified := func(name, grp string) bool {
		for _, p := range all {
			if p.Name == name && p.Namespace == rc.Namespace && p.Labels["ray.io/cluster"] == rc.Name && p.Labels["ray.io/group"] == grp {
				return true
			}
		}
		return false
	}
	// Only verified pods are drained.
	nodeOf := map[string]engine.Termination{}
	for _, tm := range plan.Terminate {
		nodeOf[tm.NodeID] = tm
	}
	for _, c := range gcs.drained() {
		if tm := nodeOf[c.node]; !verified(tm.Pod, tm.Group) {
			t.Errorf("%s\ndrained the node of %s, not a verified pod of %s", where, tm.Pod, tm.Group)
		}
	}

	sent := k.sent()
	if len(sent) > 1 {
		t.Fatalf("%s\nsent %d patches, want at most one", where, len(sent))
	}
	if len(sent) == 0 {
		return
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(sent[0].data, &ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].Op != "test" || ops[0].Path != "/metadata/resourceVersion" {
		t.Errorf("%s\nthe patch does not start with a resourceVersion test: %s", where, sent[0].data)
	}
	tested := -1 // the group whose name was tested last
	for _, o := range ops[1:] {
		var i int
		var leaf string
		if _, err := fmt.Sscanf(o.Path, "/spec/workerGroupSpecs/%d/%s", &i, &leaf); err != nil {
			t.Fatalf("%s\nunexpected path %q", where, o.Path)
		}
		g := rc.Spec.WorkerGroupSpecs[i]
		switch leaf {
		case "groupName":
			var name string
			_ = json.Unmarshal(o.Value, &name)
			if o.Op != "test" || name != g.GroupName {
				t.Errorf("%s\nbad group test %s %s %s", where, o.Op, o.Path, o.Value)
			}
			tested = i
			continue
		}
		if tested != i {
			t.Errorf("%s\n%s %s is not guarded by a test of group %d's name", where, o.Op, o.Path, i)
		}
		switch leaf {
		case "replicas":
			var n int32
			_ = json.Unmarshal(o.Value, &n)
			lo, hi := *g.MinReplicas, *g.MaxReplicas
			if lo > hi {
				lo = hi // KubeRay's rule: maxReplicas wins
			}
			if n < lo || n > hi {
				t.Errorf("%s\n%s replicas %d outside [%d, %d]", where, g.GroupName, n, *g.MinReplicas, *g.MaxReplicas)
			}
			kept := 0 // terminations of this group that did not happen
			for _, tm := range plan.Terminate {
				if tm.Group == g.GroupName && !slices.ContainsFunc(res.Removed, func(r actuator.Removal) bool { return r.Termination == tm }) {
					kept++
				}
			}
			if want := min(max(int32(plan.Replicas[g.GroupName]+kept), lo), hi); n != want {
				t.Errorf("%s\n%s replicas %d, want %d (plan %d + %d kept)", where, g.GroupName, n, want, plan.Replicas[g.GroupName], kept)
			}
		case "scaleStrategy":
			var ss struct {
				WorkersToDelete []string `json:"workersToDelete"`
			}
			_ = json.Unmarshal(o.Value, &ss)
			if ss.WorkersToDelete == nil {
				t.Errorf("%s\n%s: workersToDelete must be a list, got %s", where, g.GroupName, o.Value)
			}
			for _, name := range ss.WorkersToDelete {
				if !verified(name, g.GroupName) {
					t.Errorf("%s\n%s lists %s, which is not a verified pod of the group", where, g.GroupName, name)
				}
			}
			if !slices.IsSorted(ss.WorkersToDelete) || len(slices.Compact(slices.Clone(ss.WorkersToDelete))) != len(ss.WorkersToDelete) {
				t.Errorf("%s\n%s: list not sorted and unique: %v", where, g.GroupName, ss.WorkersToDelete)
			}
		default:
			t.Errorf("%s\nunexpected path %q", where, o.Path)
		}
	}
	// Every removed pod is listed.
	for _, r := range res.Removed {
		if !strings.Contains(string(sent[0].data), `"`+r.Pod+`"`) {
			t.Errorf("%s\nremoved %s is not in the patch", where, r.Pod)
		}
	}
	// The patch applies to the object it was computed from.
	doc, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(sent[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(doc); err != nil {
		t.Errorf("%s\npatch does not apply to its RayCluster: %v\n%s", where, err, sent[0].data)
	}
}
