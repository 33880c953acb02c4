package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The scaler against raysim's Ray behaviour: label selectors on placement
// groups, per-node drain failures, DRAINING nodes and token authentication.

// twoGroupCluster is a cluster with two worker groups of the same shape
// (2 CPU from the compute template): "plain", first, without Ray node
// labels, and "tagged", whose workers carry the Ray node label accel=a100.
// Only a label selector can tell them apart. headEnv is appended to the
// head's Ray container ("" for nothing: e.g. a flow sequence of env vars)
// and extra to the head's pod spec (volumes).
func twoGroupCluster(name, idle, headEnv, extra string) string {
	env := ""
	if headEnv != "" {
		env = ", env: " + headEnv
	}
	return fmt.Sprintf(`apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: %[1]s
  annotations: {ray.io/compute-template: default-template}
spec:
  rayVersion: "2.52.0"
  enableInTreeAutoscaling: true
  autoscalerOptions: {upscalingMode: Default, idleTimeoutSeconds: %[2]s}
  headGroupSpec:
    rayStartParams: {num-cpus: "0"}
    template: {spec: {containers: [{name: ray-head%[3]s}]%[4]s}}
  workerGroupSpecs:
  - {groupName: plain, minReplicas: 0, maxReplicas: 4, template: {}}
  - {groupName: tagged, minReplicas: 0, maxReplicas: 4, labels: {accel: a100}, template: {}}
`, name, idle, env, extra)
}

// startCluster applies a cluster and waits for its head.
func startCluster(t *testing.T, ns, name, yaml string) {
	t.Helper()
	mustKubectl(t, yaml, "apply", "-n", ns, "-f", "-")
	eventually(t, 60*time.Second, "head Running", func() (bool, string) {
		ps := pods(t, ns, name)
		return len(running(ps, "head")) == 1, summary(ps)
	})
}

// groupReplicas is the replicas of every worker group by name.
func groupReplicas(t *testing.T, ns, name string) map[string]int32 {
	t.Helper()
	out := map[string]int32{}
	for _, g := range getRayCluster(t, ns, name).Spec.WorkerGroupSpecs {
		out[g.GroupName] = replicas(g)
	}
	return out
}

// groupWorkers is the names of the Running worker pods of one group.
func groupWorkers(t *testing.T, ns, name, group string) []string {
	t.Helper()
	var out []string
	for _, p := range running(pods(t, ns, name), "worker") {
		if p.Labels["ray.io/group"] == group {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

// A placement group whose bundles select the Ray node label accel=a100
// launches workers only in the group whose workers carry it, although the
// unlabelled group comes first and has the same shape; its bundles land on
// those workers.
func TestPlacementGroupLabelSelectorPicksGroup(t *testing.T) {
	ns := namespace(t, "e2e-pg-labels")
	startCluster(t, ns, "labels", twoGroupCluster("labels", "60", "", ""))
	raysimPostPlacementGroup(t, ns, "labels", raysimPlacementGroupSpec{
		Name: "pg", Strategy: "STRICT_SPREAD",
		Bundles:              []map[string]float64{{"CPU": 1}, {"CPU": 1}},
		BundleLabelSelectors: []map[string]string{{"accel": "a100"}, {"accel": "a100"}},
	})
	eventually(t, 30*time.Second, "the placement group placed on tagged workers", func() (bool, string) {
		pgs := raysimPlacementGroups(t, ns, "labels")
		if len(pgs) != 1 || pgs[0].State != "CREATED" {
			return false, fmt.Sprintf("%+v", pgs)
		}
		for _, b := range pgs[0].Bundles {
			if !strings.Contains(b.Node, "-tagged-") {
				return false, fmt.Sprintf("bundle on %q", b.Node)
			}
		}
		return true, ""
	})
	r := groupReplicas(t, ns, "labels")
	if r["plain"] != 0 || r["tagged"] != 2 {
		t.Errorf("replicas %v, want plain 0 and tagged 2 (STRICT_SPREAD: one node per bundle)", r)
	}
	// The state the scaler read carried the selectors only in bundle_selectors.
	st := clusterState(t, ns, "labels")
	for _, n := range st.NodeStates {
		if strings.Contains(n.InstanceID, "-tagged-") && n.Labels["accel"] != "a100" {
			t.Errorf("tagged node %s has labels %v", n.InstanceID, n.Labels)
		}
	}
}

// One node's drain is answered ABORTED (the raylet's failure, as the GCS
// forwards it) every time, while demand arrives for the other group: the
// scale-up lands although that drain keeps failing, the failing node keeps
// its pod and is retried, with a DrainFailed Event; once Ray accepts, the
// node goes.
func TestDrainFailureDoesNotStallScaleUp(t *testing.T) {
	ns := namespace(t, "e2e-drain-fail")
	const name = "drainfail"
	startCluster(t, ns, name, twoGroupCluster(name, "2", "", ""))
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "a", Resources: map[string]float64{"CPU": 1}})
	var victim string
	eventually(t, 30*time.Second, "a plain worker for the actor", func() (bool, string) {
		ws := groupWorkers(t, ns, name, "plain")
		if len(ws) == 1 {
			victim = ws[0]
			return slices.ContainsFunc(raysimActors(t, ns, name), func(a raysimActor) bool { return a.Node == victim }), "actor not placed"
		}
		return false, fmt.Sprint(ws)
	})
	raysimSetDrainFault(t, ns, name, victim, raysimDrainAborted, 0, false)
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/actors/a"), nil)
	eventually(t, 30*time.Second, "the idle node's drain answered ABORTED", func() (bool, string) {
		for _, c := range raysimDrainCalls(t, ns, name) {
			if c.Pod == victim && c.Code == "Aborted" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", raysimDrainCalls(t, ns, name))
	})

	// Demand only the tagged group can take, while the drain keeps failing.
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "b", Resources: map[string]float64{"CPU": 1}, LabelSelector: map[string]string{"accel": "a100"}})
	eventually(t, 15*time.Second, "the tagged group scaled up despite the failing drain", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["tagged"] == 1, fmt.Sprint(r)
	})
	g := getRayCluster(t, ns, name).Spec.WorkerGroupSpecs[0]
	if replicas(g) != 1 || slices.Contains(g.ScaleStrategy.WorkersToDelete, victim) {
		t.Errorf("plain replicas %d, workersToDelete %v: the node whose drain failed must keep its pod and replica", replicas(g), g.ScaleStrategy.WorkersToDelete)
	}
	eventually(t, 30*time.Second, "the failing node retried", func() (bool, string) {
		n := 0
		for _, c := range raysimDrainCalls(t, ns, name) {
			if c.Pod == victim && c.Code == "Aborted" {
				n++
			}
		}
		return n >= 2, fmt.Sprint(n, " failed drains")
	})
	if reasons := eventReasons(t, ns); !hasEvent(reasons, "DrainFailed: could not drain Ray node") {
		t.Errorf("no DrainFailed event in %q", reasons)
	} else if slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, "GCSUnreachable") && strings.Contains(r, "DrainNode") }) {
		t.Errorf("a node's drain failure reported as an unreachable GCS: %q", reasons)
	}

	// Ray accepts again: the node is drained and removed.
	raysimClearDrainFault(t, ns, name, victim)
	eventually(t, 60*time.Second, "the node drained and its pod listed", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 0, fmt.Sprint(r)
	})
	for _, c := range raysimDrainCalls(t, ns, name) {
		if c.Reason == "DRAIN_NODE_REASON_PREEMPTION" {
			t.Errorf("PREEMPTION sent: %+v", c)
		}
	}
}

// A node Ray reports DRAINING is never counted as capacity: a drain that
// took effect in Ray after the scaler gave up on the call (the raylet
// answered too late) leaves a DRAINING node with its pod and free CPU;
// new demand must bring a new worker, and land there.
func TestDrainingNodeIsNotCapacity(t *testing.T) {
	ns := namespace(t, "e2e-draining")
	const name = "draining"
	startCluster(t, ns, name, twoGroupCluster(name, "2", "", ""))
	raysimSetSettings(t, ns, name, raysimSettings{DrainWindowSeconds: raysimPtr(600.0)})
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "a", Resources: map[string]float64{"CPU": 1}})
	var first string
	eventually(t, 30*time.Second, "a plain worker for the actor", func() (bool, string) {
		ws := groupWorkers(t, ns, name, "plain")
		if len(ws) == 1 {
			first = ws[0]
			return true, ""
		}
		return false, fmt.Sprint(ws)
	})
	// The drain answers too late for the scaler but takes effect in Ray;
	// with a drain window of 600 s the node stays DRAINING for the test.
	raysimSetDrainFault(t, ns, name, first, raysimDrainDeadline, 1, true)
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/actors/a"), nil)
	eventually(t, 60*time.Second, "the node DRAINING in Ray, its pod kept", func() (bool, string) {
		for _, n := range raysimNodes(t, ns, name) {
			if n.Pod == first && n.Status == "DRAINING" {
				return slices.Contains(groupWorkers(t, ns, name, "plain"), first), "pod gone"
			}
		}
		return false, fmt.Sprintf("%+v", raysimNodes(t, ns, name))
	})
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "c", Resources: map[string]float64{"CPU": 1}})
	eventually(t, 30*time.Second, "a new worker for the actor, not the DRAINING node", func() (bool, string) {
		for _, a := range raysimActors(t, ns, name) {
			if a.Name == "c" && a.Node != "" {
				return a.Node != first, "placed on " + a.Node
			}
		}
		return false, fmt.Sprint(groupReplicas(t, ns, name))
	})
}

// tokenSecret is the Secret with Ray's auth token (KubeRay's authOptions
// layout: key auth_token), and a Role letting the chart's scaler read it,
// as a platform team grants per namespace when the chart's cluster-wide
// scaler.rayAuthTokenSecrets stays off.
func tokenSecret(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: ray-token}
stringData: {auth_token: %q}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: raypilot-scaler-ray-token}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [ray-token], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: raypilot-scaler-ray-token}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: raypilot-scaler-ray-token}
subjects:
- {kind: ServiceAccount, name: raypilot-scaler, namespace: raypilot-system}
`, token)
}

// scaleUpAndDown posts an actor, waits for its worker, removes it and waits
// for the worker to be drained away.
func scaleUpAndDown(t *testing.T, ns, name string) {
	t.Helper()
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "tok", Resources: map[string]float64{"CPU": 1}})
	eventually(t, 30*time.Second, "scaled up through the token-authenticated GCS", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 1 && len(groupWorkers(t, ns, name, "plain")) == 1, fmt.Sprint(r)
	})
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/actors/tok"), nil)
	eventually(t, 60*time.Second, "scaled down through the token-authenticated GCS", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 0, fmt.Sprint(r)
	})
	accepted := slices.ContainsFunc(raysimDrainCalls(t, ns, name), func(c raysimDrainCall) bool { return c.Result == "accepted" })
	if !accepted {
		t.Errorf("no accepted drain: %+v", raysimDrainCalls(t, ns, name))
	}
}

// A token-authenticated cluster (RAY_AUTH_MODE=token, the token from a
// Secret, first through RAY_AUTH_TOKEN, then as a file mounted from the
// Secret and named by RAY_AUTH_TOKEN_PATH) scales up and down; a wrong
// token yields an Event and never a drain.
func TestTokenAuthenticatedCluster(t *testing.T) {
	const token = "e2e-token-0123456789"
	t.Run("env from a Secret", func(t *testing.T) {
		ns := namespace(t, "e2e-token-env")
		mustKubectl(t, tokenSecret(token), "apply", "-n", ns, "-f", "-")
		env := `[{name: RAY_AUTH_MODE, value: TOKEN}, {name: RAY_AUTH_TOKEN, valueFrom: {secretKeyRef: {name: ray-token, key: auth_token}}}]`
		startCluster(t, ns, "tok", twoGroupCluster("tok", "2", env, ""))
		eventually(t, 30*time.Second, "raysim requires the token", func() (bool, string) {
			a := raysimAuthState(t, ns, "tok")
			return a.Enabled, fmt.Sprintf("%+v", a)
		})
		scaleUpAndDown(t, ns, "tok")
	})
	t.Run("file mounted from a Secret", func(t *testing.T) {
		ns := namespace(t, "e2e-token-file")
		mustKubectl(t, tokenSecret(token), "apply", "-n", ns, "-f", "-")
		env := `[{name: RAY_AUTH_MODE, value: token}, {name: RAY_AUTH_TOKEN_PATH, value: /etc/ray-auth/token}], volumeMounts: [{name: ray-auth, mountPath: /etc/ray-auth, readOnly: true}]`
		volumes := `, volumes: [{name: ray-auth, secret: {secretName: ray-token, items: [{key: auth_token, path: token}]}}]`
		startCluster(t, ns, "tok", twoGroupCluster("tok", "2", env, volumes))
		eventually(t, 30*time.Second, "raysim requires the token", func() (bool, string) {
			a := raysimAuthState(t, ns, "tok")
			return a.Enabled, fmt.Sprintf("%+v", a)
		})
		scaleUpAndDown(t, ns, "tok")

		// The GCS now wants another token than the one the scaler finds.
		raysimClearDrainCalls(t, ns, "tok")
		raysimSetAuthToken(t, ns, "tok", "another-token-9876543210")
		raysimPostActor(t, ns, "tok", raysimActorSpec{Name: "late", Resources: map[string]float64{"CPU": 1}})
		eventually(t, 30*time.Second, "an Event naming the rejected token", func() (bool, string) {
			reasons := eventReasons(t, ns)
			return hasEvent(reasons, "GCSUnreachable: holding scaling") && slices.ContainsFunc(reasons, func(r string) bool {
				return strings.Contains(r, "UNAUTHENTICATED") || strings.Contains(r, "Unauthenticated")
			}), strings.Join(reasons, " | ")
		})
		time.Sleep(5 * time.Second) // several rounds with the wrong token
		if calls := raysimDrainCalls(t, ns, "tok"); len(calls) != 0 {
			t.Errorf("drain calls with a wrong token: %+v", calls)
		}
		if r := groupReplicas(t, ns, "tok"); r["plain"] != 0 || r["tagged"] != 0 {
			t.Errorf("replicas %v changed while the GCS refused the scaler", r)
		}
		for _, e := range eventReasons(t, ns) {
			if strings.Contains(e, token) || strings.Contains(e, "another-token") {
				t.Errorf("an Event shows a token: %q", e)
			}
		}
	})
}

// A GCS of a Ray release whose autoscaler API the scaler does not speak
// (Ray 2.6 numbered DrainNodeReason differently) gets an UnsupportedRay
// Event and nothing else: no scale-up, no drain. Once the cluster runs a
// supported Ray, scaling resumes.
func TestUnsupportedRayLeftAlone(t *testing.T) {
	ns := namespace(t, "e2e-old-ray")
	const name = "oldray"
	// The head's image names Ray 2.6.3, which is what its GCS reports from
	// the first CheckAlive on (a version set after the start would race the
	// scaler's first round).
	startCluster(t, ns, name, strings.Replace(twoGroupCluster(name, "2", "", ""), `rayVersion: "2.52.0"`, `rayVersion: "2.6.3"`, 1))
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "a", Resources: map[string]float64{"CPU": 1}})
	eventually(t, 30*time.Second, "an UnsupportedRay Event", func() (bool, string) {
		reasons := eventReasons(t, ns)
		return hasEvent(reasons, `UnsupportedRay: leaving the cluster alone: Ray "2.6.3" is older than 2.8.0`), strings.Join(reasons, " | ")
	})
	time.Sleep(3 * time.Second)
	if r := groupReplicas(t, ns, name); r["plain"] != 0 || r["tagged"] != 0 {
		t.Errorf("replicas %v for a Ray the scaler does not speak", r)
	}
	if calls := raysimDrainCalls(t, ns, name); len(calls) != 0 {
		t.Errorf("drain calls to a Ray the scaler does not speak: %+v", calls)
	}
	raysimSetRayVersion(t, ns, name, "2.52.0")
	eventually(t, 30*time.Second, "scaled once the Ray is supported", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 1, fmt.Sprint(r)
	})
}
