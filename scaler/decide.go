package scaler

import (
	"fmt"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Decision is one scaling decision about a RayCluster: the engine's plan and
// Ray's state as the engine read it.
type Decision struct {
	Plan  engine.Plan
	State engine.State
}

// Demand reports whether Ray had work waiting for resources: pending
// requests or placement groups with bundles (the scaler times its reaction
// from the first round that saw it).
func (d Decision) Demand() bool { return len(d.State.Pending) > 0 || len(d.State.Gangs) > 0 }

// Decide is the one path from what the world says to a scaling decision:
// rc's node types under policy (ClusterFor), Ray's ClusterResourceState
// (StateFromProto) and rc's pods (PodsFromKube, the pods rc's
// scaleStrategy.workersToDelete lists marked as such), decided at now by
// engine.Decide. The scaler's rounds and `raypilot plan` both decide here,
// so the offline plan is the one the scaler would make. The error says that
// rc's node types cannot be derived; nothing is decided then.
func Decide(rc *rayv1.RayCluster, policy *defaults.Policy, st *rpcpb.ClusterResourceState, pods []corev1.Pod, now time.Time) (Decision, error) {
	cluster, err := ClusterFor(rc, policy)
	if err != nil {
		return Decision{}, fmt.Errorf("node types: %w", err)
	}
	state := StateFromProto(st)
	plan := engine.Decide(cluster, state, PodsFromKube(rc.Name, pods, listedForDeletion(rc)), now)
	return Decision{Plan: plan, State: state}, nil
}

// listedForDeletion is the set of pod names rc's worker groups list in
// scaleStrategy.workersToDelete: KubeRay deletes them, so the engine no
// longer counts them.
func listedForDeletion(rc *rayv1.RayCluster) map[string]bool {
	listed := map[string]bool{}
	for _, g := range rc.Spec.WorkerGroupSpecs {
		for _, name := range g.ScaleStrategy.WorkersToDelete {
			listed[name] = true
		}
	}
	return listed
}
