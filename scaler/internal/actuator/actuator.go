package actuator

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler/engine"
)

// Patcher applies a JSON patch to a RayCluster.
type Patcher interface {
	Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error
}

// ErrConflict reports that the RayCluster changed under the decision; the
// caller decides again from fresh state.
var ErrConflict = errors.New("the RayCluster changed while the scaler decided; retrying with fresh state")

// ErrPatch reports that the API server refused the patch for another reason.
var ErrPatch = errors.New("patch RayCluster")

// Removal is a pod the actuator removed (drained and listed) or refused to.
type Removal struct {
	engine.Termination
	// Rejected is Ray's reason when it refused the drain.
	Rejected string
}

// Result is what Apply did.
type Result struct {
	// Removed pods were listed in workersToDelete.
	Removed []Removal
	// Rejected drains: the pods stay.
	Rejected []Removal
	// Failed drain calls: the pods stay, to be retried.
	Failed []Failure
	// Held terminations named a pod the caller holds back this round (a
	// recent drain failure waiting out its backoff): the pods stay.
	Held []engine.Termination
	// Skipped terminations named a pod the actuator could not verify.
	Skipped []engine.Termination
	// Replicas are the replicas written per group.
	Replicas map[string]int32
	// Patched reports whether a patch was sent.
	Patched bool
}

// Held reports whether a pod is held back this round: it is neither drained
// nor listed and keeps its replica. Nil holds nothing.
type Held func(pod string) bool

// Apply carries out plan on rc. pods are the cluster's pods as listed by
// label; each terminated pod is checked again to carry rc's ray.io/cluster
// label and its group's ray.io/group label before it is drained or listed.
// A drain that fails or is refused keeps its pod and its replica; the rest
// of the plan (launches, other drains, the patch) goes ahead.
func Apply(ctx context.Context, k Patcher, d Drainer, rc *rayv1.RayCluster, pods []corev1.Pod, plan engine.Plan, held Held) (*Result, error) {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	res := &Result{Replicas: map[string]int32{}}
	removed := map[string][]string{}
	keptPerGroup := map[string]int{}
	hosts := hostsPerReplica(rc)
	// A replica of a multi-host group is numOfHosts pods that KubeRay
	// creates and deletes together: while any of the group's terminations is
	// held, none of them goes ahead, so that no replica loses only some
	// hosts.
	heldGroup := map[string]bool{}
	for _, t := range plan.Terminate {
		if held != nil && hosts[t.Group] > 1 && held(t.Pod) {
			heldGroup[t.Group] = true
		}
	}
	var jobs []drainJob
	for _, t := range plan.Terminate {
		if !belongs(byName[t.Pod], rc, t.Group) || groupIndex(rc, t.Group) < 0 {
			res.Skipped = append(res.Skipped, t)
			keptPerGroup[t.Group]++
			continue
		}
		if heldGroup[t.Group] || (held != nil && held(t.Pod)) {
			res.Held = append(res.Held, t)
			keptPerGroup[t.Group]++
			continue
		}
		if t.Drain && t.NodeID != "" {
			id, err := hex.DecodeString(t.NodeID)
			if err != nil {
				res.Skipped = append(res.Skipped, t)
				keptPerGroup[t.Group]++
				continue
			}
			jobs = append(jobs, drainJob{t: t, id: id})
			continue
		}
		res.Removed = append(res.Removed, Removal{Termination: t})
		removed[t.Group] = append(removed[t.Group], t.Pod)
	}
	for i, o := range stopAll(ctx, d, jobs) {
		t := jobs[i].t
		switch {
		case o.err != nil:
			res.Failed = append(res.Failed, Failure{Termination: t, Err: o.err})
			keptPerGroup[t.Group]++
		case !o.done:
			res.Rejected = append(res.Rejected, Removal{Termination: t, Rejected: o.rejection})
			keptPerGroup[t.Group]++
		default:
			res.Removed = append(res.Removed, Removal{Termination: t})
			removed[t.Group] = append(removed[t.Group], t.Pod)
		}
	}
	res.keepWholeReplicas(hosts, removed, keptPerGroup)

	var changes []GroupChange
	for i := range rc.Spec.WorkerGroupSpecs {
		g := &rc.Spec.WorkerGroupSpecs[i]
		c := GroupChange{Index: i, Name: g.GroupName}
		// Names from earlier decisions stay until KubeRay deleted their pods;
		// a name that is not a verified pod of this group is never written back.
		var keep []string
		for _, name := range g.ScaleStrategy.WorkersToDelete {
			if belongs(byName[name], rc, g.GroupName) {
				keep = append(keep, name)
			}
		}
		list := append(keep, removed[g.GroupName]...)
		if len(list) != len(g.ScaleStrategy.WorkersToDelete) || len(removed[g.GroupName]) > 0 {
			c.WorkersToDelete = append([]string{}, list...)
		}
		if want, ok := plan.Replicas[g.GroupName]; ok {
			// A pod whose drain was refused, failed or held stays, so it
			// keeps its replica (a replica is numOfHosts pods).
			n := int32(want + (keptPerGroup[g.GroupName]+hosts[g.GroupName]-1)/hosts[g.GroupName])
			// maxReplicas wins over minReplicas, as in KubeRay and the engine.
			if g.MinReplicas != nil && n < *g.MinReplicas {
				n = *g.MinReplicas
			}
			if g.MaxReplicas != nil && n > *g.MaxReplicas {
				n = *g.MaxReplicas
			}
			if g.Replicas == nil || *g.Replicas != n {
				c.Replicas = &n
				res.Replicas[g.GroupName] = n
			}
		}
		changes = append(changes, c)
	}
	patch, err := Patch(rc.ResourceVersion, changes)
	if err != nil || patch == nil {
		return res, err
	}
	target := &rayv1.RayCluster{}
	target.Namespace, target.Name = rc.Namespace, rc.Name
	if err := k.Patch(ctx, target, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		if apierrors.IsConflict(err) || isTestFailure(err) {
			return res, fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return res, fmt.Errorf("%w %s/%s: %v", ErrPatch, rc.Namespace, rc.Name, err)
	}
	res.Patched = true
	return res, nil
}

// hostsPerReplica is each worker group's numOfHosts (at least 1).
func hostsPerReplica(rc *rayv1.RayCluster) map[string]int {
	out := make(map[string]int, len(rc.Spec.WorkerGroupSpecs))
	for i := range rc.Spec.WorkerGroupSpecs {
		g := &rc.Spec.WorkerGroupSpecs[i]
		out[g.GroupName] = max(int(g.NumOfHosts), 1)
	}
	return out
}

// keepWholeReplicas rounds, in every multi-host group, the pods that stay up
// to whole replicas: when some hosts of a replica were drained and others
// were not, as many drained pods as needed are not listed, and wait (held)
// for a later round. KubeRay replaces a partly listed replica's missing
// pods, so listing part of one would only churn pods.
func (res *Result) keepWholeReplicas(hosts map[string]int, removed map[string][]string, kept map[string]int) {
	for group, n := range hosts {
		partial := kept[group] % n
		if n <= 1 || partial == 0 {
			continue
		}
		back := min(n-partial, len(removed[group]))
		unlist := removed[group][len(removed[group])-back:]
		removed[group] = removed[group][:len(removed[group])-back]
		kept[group] += back
		for _, pod := range unlist {
			i := slices.IndexFunc(res.Removed, func(r Removal) bool { return r.Pod == pod })
			res.Held = append(res.Held, res.Removed[i].Termination)
			res.Removed = slices.Delete(res.Removed, i, i+1)
		}
	}
}

// belongs reports whether p is a pod of rc's namespace carrying rc's
// ray.io/cluster label and group's ray.io/group label, and is a worker.
func belongs(p *corev1.Pod, rc *rayv1.RayCluster, group string) bool {
	// KubeRay labels the head pod ray.io/group=headgroup, a valid worker
	// group name too: only a worker pod may ever be drained or listed.
	return p != nil && p.Namespace == rc.Namespace && p.Labels["ray.io/cluster"] == rc.Name &&
		p.Labels["ray.io/group"] == group && p.Labels["ray.io/node-type"] == "worker"
}

func groupIndex(rc *rayv1.RayCluster, name string) int {
	for i := range rc.Spec.WorkerGroupSpecs {
		if rc.Spec.WorkerGroupSpecs[i].GroupName == name {
			return i
		}
	}
	return -1
}

// isTestFailure recognises a failed JSON-patch test op. The API server
// answers a patch that cannot be applied with a generic 422 ("the server
// rejected our request due to an error in our request") and drops the patch
// library's "testing value ... failed"; our patches are otherwise well
// formed, so that answer means a test op failed. A 422 naming fields (schema
// validation) or an admission denial is a real refusal.
func isTestFailure(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Code != 422 || strings.Contains(st.Status().Message, "admission webhook") {
		return false
	}
	if strings.HasPrefix(st.Status().Message, "the server rejected our request due to an error in our request") {
		return true
	}
	texts := []string{st.Status().Message}
	if d := st.Status().Details; d != nil {
		for _, c := range d.Causes {
			texts = append(texts, c.Message)
		}
	}
	for _, t := range texts {
		if strings.Contains(t, "test failed") || strings.Contains(t, "testing value") || strings.Contains(t, "test operation failed") {
			return true
		}
	}
	return false
}
