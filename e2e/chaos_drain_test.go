package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// freezeWorkerGroups is a ValidatingAdmissionPolicy (and its binding)
// refusing any change to the worker groups (replicas, workersToDelete) of
// the RayClusters in one namespace: with it the scaler's patch after an
// accepted drain fails, which holds the scaler exactly between the drain
// and the patch, with no hook in the product.
func freezeWorkerGroups(ns string) string {
	return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: chaos-freeze-%[1]s}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [ray.io], apiVersions: [v1], operations: [UPDATE], resources: [rayclusters]}
  validations:
  - expression: object.spec.workerGroupSpecs == oldObject.spec.workerGroupSpecs
    message: "chaos: the worker groups of this RayCluster are frozen"
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: chaos-freeze-%[1]s}
spec:
  policyName: chaos-freeze-%[1]s
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: %[1]s}
`, ns)
}

// Scenario 1: the scaler is killed (SIGKILL) after Ray accepted the drain of
// an idle worker and before its RayCluster patch landed, then restarted.
// Nothing lost: the drained worker, and only it, is removed; the replicas
// end at what the remaining demand needs and never go lower; the other
// workers (and their actors) are untouched.
func TestChaosScalerKilledBetweenDrainAndPatch(t *testing.T) {
	chaos(t)
	keepRunning(t, "raypilot-scaler")
	for i := range iterations(t, 3) {
		t.Run(fmt.Sprint("iteration-", i), func(t *testing.T) {
			start := time.Now()
			scalerKilledBetweenDrainAndPatch(t, chaosNamespace("drain", i))
			t.Logf("iteration took %s", time.Since(start).Round(100*time.Millisecond))
		})
	}
}

func scalerKilledBetweenDrainAndPatch(t *testing.T, ns string) {
	namespace(t, ns)
	startSeedCluster(t, ns, "2")
	seedActors(t, ns, 3)
	before := workerNames(t, ns)
	slices.Sort(before)

	freeze := freezeWorkerGroups(ns)
	mustKubectl(t, freeze, "apply", "-f", "-")
	t.Cleanup(func() { _, _, _ = kubectl(t, freeze, "delete", "--ignore-not-found", "-f", "-") })
	// The policy is in force once a server-side dry run of a replicas change
	// is refused (admission runs on dry runs too).
	eventually(t, 30*time.Second, "the freeze policy in force", func() (bool, string) {
		_, errOut, err := kubectl(t, "", "patch", "raycluster", "test-cluster", "-n", ns, "--dry-run=server", "--type=json",
			"-p", `[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":4}]`)
		return err != nil && strings.Contains(errOut, "frozen"), errOut
	})
	versions := watchLines(t, ns, "raycluster", "test-cluster",
		`{.spec.workerGroupSpecs[0].replicas} {.spec.workerGroupSpecs[0].scaleStrategy.workersToDelete}`)
	watching(t, versions)
	_, logOffset := logSince(t, "raypilot-scaler", 0)

	// Actor a1 leaves: its worker goes idle, and after 2 s Ray drains it.
	mustRaysim(t, "DELETE", "/v1/clusters/"+ns+"/test-cluster/actors/a1", nil)
	var drained string
	eventually(t, 30*time.Second, "Ray accepted the drain of the idle worker (its node DEAD)", func() (bool, string) {
		var states []string
		for _, n := range clusterState(t, ns, "test-cluster").NodeStates {
			states = append(states, n.InstanceID+"="+n.Status)
			if n.Status == "DEAD" {
				if drained != "" && drained != n.InstanceID {
					t.Fatalf("two nodes drained: %s and %s", drained, n.InstanceID)
				}
				drained = n.InstanceID
			}
		}
		return drained != "", strings.Join(states, " ")
	})
	eventually(t, 30*time.Second, "the scaler's patch after the drain refused", func() (bool, string) {
		logged, _ := logSince(t, "raypilot-scaler", logOffset)
		for _, line := range strings.Split(logged, "\n") {
			if strings.Contains(line, "patch refused") && strings.Contains(line, ns+"/test-cluster") {
				return true, ""
			}
		}
		return false, "no refused patch logged"
	})
	if g := workerGroup(t, ns); replicas(g) != 3 || len(g.ScaleStrategy.WorkersToDelete) != 0 {
		t.Fatalf("the freeze let a change through: replicas %d, workersToDelete %v", replicas(g), g.ScaleStrategy.WorkersToDelete)
	}

	oldPID := componentPID(t, "raypilot-scaler")
	localCluster(t, "stop", "raypilot-scaler", "KILL")
	if alive(oldPID) {
		t.Fatalf("scaler pid %d still alive after SIGKILL", oldPID)
	}
	mustKubectl(t, freeze, "delete", "-f", "-")
	eventually(t, 30*time.Second, "the freeze policy gone", func() (bool, string) {
		_, errOut, err := kubectl(t, "", "patch", "raycluster", "test-cluster", "-n", ns, "--dry-run=server", "--type=json",
			"-p", `[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":4}]`)
		return err == nil, errOut
	})
	localCluster(t, "start", "raypilot-scaler")
	if pid := componentPID(t, "raypilot-scaler"); pid == oldPID {
		t.Fatalf("scaler not restarted (pid %d)", pid)
	}

	want := slices.DeleteFunc(slices.Clone(before), func(p string) bool { return p == drained })
	eventually(t, 60*time.Second, "the drained worker removed, the others kept", func() (bool, string) {
		g := workerGroup(t, ns)
		ws := running(pods(t, ns, "test-cluster"), "worker")
		var names []string
		for _, p := range ws {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return replicas(g) == 2 && len(g.ScaleStrategy.WorkersToDelete) == 0 && slices.Equal(names, want) &&
				len(workerNames(t, ns)) == 2,
			fmt.Sprintf("replicas %d, workersToDelete %v, running %v (want %v)", replicas(g), g.ScaleStrategy.WorkersToDelete, names, want)
	})
	// Nothing else happens: the busy workers stay for several idle
	// timeouts, over rounds of the restarted scaler.
	steadyWhileScaling(t, ns, "test-cluster", 6*time.Second, 3, "after the restart settled, replicas 2 and the busy workers kept", func() (bool, string) {
		g := workerGroup(t, ns)
		names := workerNames(t, ns)
		slices.Sort(names)
		return replicas(g) == 2 && slices.Equal(names, want), fmt.Sprintf("replicas %d, workers %v, want 2 and %v", replicas(g), names, want)
	})
	st := clusterState(t, ns, "test-cluster")
	if len(st.PendingResourceRequests) != 0 {
		t.Errorf("actors lost their node: %d pending requests", len(st.PendingResourceRequests))
	}
	for _, p := range want {
		if s := nodeStatus(t, ns, p); s != "RUNNING" {
			t.Errorf("worker %s (holding an actor) has Ray node status %q, want RUNNING", p, s)
		}
	}
	// Every version of the group: replicas only 3 then 2, and no pod but
	// the drained one ever listed.
	for _, v := range versions() {
		n, list, _ := strings.Cut(v, " ")
		if n != "3" && n != "2" {
			t.Errorf("replicas went to %s: %s", n, strings.Join(versions(), " | "))
		}
		for _, p := range before {
			if p != drained && strings.Contains(list, p) {
				t.Errorf("busy worker %s listed in workersToDelete: %s", p, v)
			}
		}
	}
	t.Logf("drained %s; versions: %s", drained, strings.Join(versions(), " | "))
}
