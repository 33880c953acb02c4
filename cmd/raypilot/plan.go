package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

const planUsage = "usage: raypilot plan --raycluster FILE --ray-state FILE [--pods FILE] [--policy FILE] [--now RFC3339]"

// planOutput is the JSON document `raypilot plan` prints.
type planOutput struct {
	Launch     map[string]int    `json:"launch"`
	Terminate  []planTermination `json:"terminate"`
	Infeasible planInfeasible    `json:"infeasible"`
	Replicas   map[string]int    `json:"replicas"`
	Decisions  []string          `json:"decisions"`
}

// planTermination is one pod the engine would remove.
type planTermination struct {
	Pod    string `json:"pod"`
	Group  string `json:"group"`
	Cause  string `json:"cause"`
	Reason string `json:"reason,omitempty"`
}

// planInfeasible is the demand no allowed cluster shape can satisfy: the
// pending requests by shape, and how many placement groups and
// request_resources constraints cannot be met.
type planInfeasible struct {
	Requests    []planRequest `json:"requests"`
	Gangs       int           `json:"gangs"`
	Constraints int           `json:"constraints"`
}

// planRequest is Count pending requests of one shape.
type planRequest struct {
	Resources map[string]float64 `json:"resources"`
	Count     int                `json:"count"`
}

// runPlan is `raypilot plan`: it runs the scaling engine once, offline, on a
// stored RayCluster and a Ray ClusterResourceState and prints the plan as
// JSON. Exit 0 with the plan on stdout, 1 when an input cannot be read or
// parsed, 2 on usage errors.
func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clusterFile := fs.String("raycluster", "", "the RayCluster as stored (expanded), YAML or JSON")
	stateFile := fs.String("ray-state", "", "Ray's ClusterResourceState as protobuf JSON")
	podsFile := fs.String("pods", "", "the cluster's pods: a v1 List or YAML documents (default: one running pod per Ray worker node)")
	policyFile := fs.String("policy", "", "policy document (limits.maxWorkersPerCluster caps the workers)")
	nowFlag := fs.String("now", "", "the clock, RFC3339 (default: now)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *clusterFile == "" || *stateFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, planUsage)
		return 2
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(stderr, "raypilot plan: --now: %v\n", err)
			return 2
		}
		now = t
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "raypilot plan: %v\n", err)
		return 1
	}
	rc, err := planReadRayCluster(*clusterFile)
	if err != nil {
		return fail(err)
	}
	policy := defaults.DefaultPolicy()
	if *policyFile != "" {
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			return fail(err)
		}
		if policy, err = defaults.ParsePolicy(data); err != nil {
			return fail(fmt.Errorf("%s: %w", *policyFile, err))
		}
	}
	cluster, err := scaler.ClusterFor(rc, policy)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", *clusterFile, err))
	}
	st, err := planReadState(*stateFile)
	if err != nil {
		return fail(err)
	}
	var pods []corev1.Pod
	if *podsFile != "" {
		if pods, err = planReadPods(*podsFile); err != nil {
			return fail(err)
		}
	} else {
		pods = planPodsFromState(rc.Name, st)
	}

	listed := map[string]bool{}
	for _, g := range rc.Spec.WorkerGroupSpecs {
		for _, name := range g.ScaleStrategy.WorkersToDelete {
			listed[name] = true
		}
	}
	plan := engine.Decide(cluster, scaler.StateFromProto(st), scaler.PodsFromKube(rc.Name, pods, listed), now)

	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep the reasons' ">" readable
	if err := enc.Encode(planToOutput(plan)); err != nil {
		return fail(err)
	}
	return 0
}

// planToOutput renders the plan with empty collections instead of nulls.
func planToOutput(p engine.Plan) planOutput {
	out := planOutput{
		Launch:    map[string]int{},
		Terminate: []planTermination{},
		Infeasible: planInfeasible{
			Requests:    []planRequest{},
			Gangs:       len(p.Infeasible.Gangs),
			Constraints: len(p.Infeasible.Constraints),
		},
		Replicas:  map[string]int{},
		Decisions: []string{},
	}
	for g, n := range p.Launch {
		if n > 0 {
			out.Launch[g] = n
		}
	}
	for g, n := range p.Replicas {
		out.Replicas[g] = n
	}
	for _, t := range p.Terminate {
		out.Terminate = append(out.Terminate, planTermination{Pod: t.Pod, Group: t.Group, Cause: string(t.Cause), Reason: t.Reason})
	}
	for _, r := range p.Infeasible.Requests {
		out.Infeasible.Requests = append(out.Infeasible.Requests, planRequest{Resources: r.Resources, Count: r.Count})
	}
	for _, d := range p.Decisions {
		out.Decisions = append(out.Decisions, d.String())
	}
	return out
}

// planReadRayCluster reads the one RayCluster of a YAML or JSON file (other
// documents, such as the ComputeTemplate `raypilot expand` also prints, are
// skipped).
func planReadRayCluster(path string) (*rayv1.RayCluster, error) {
	objs, err := planReadObjects(path)
	if err != nil {
		return nil, err
	}
	var found []json.RawMessage
	for _, o := range objs {
		if o.kind == "RayCluster" {
			found = append(found, o.json)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%s: want one RayCluster, found %d", path, len(found))
	}
	rc := &rayv1.RayCluster{}
	if err := yaml.Unmarshal(found[0], rc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rc, nil
}

// planReadPods reads the pods of a v1 List or of YAML documents.
func planReadPods(path string) ([]corev1.Pod, error) {
	objs, err := planReadObjects(path)
	if err != nil {
		return nil, err
	}
	pods := make([]corev1.Pod, len(objs))
	for i, o := range objs {
		if o.kind != "Pod" {
			return nil, fmt.Errorf("%s: object %d is a %q, not a Pod", path, i+1, o.kind)
		}
		if err := yaml.Unmarshal(o.json, &pods[i]); err != nil {
			return nil, fmt.Errorf("%s: object %d: %w", path, i+1, err)
		}
	}
	return pods, nil
}

// planObject is one Kubernetes object of an input file, as JSON.
type planObject struct {
	kind string
	json json.RawMessage
}

// planReadObjects reads the objects of a file of YAML (or JSON) documents;
// the items of a List (or any kind ending in "List") replace the List.
func planReadObjects(path string) ([]planObject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	docs, err := manifest.Read(f, path)
	if err != nil {
		return nil, err
	}
	var out []planObject
	for _, d := range docs {
		if !strings.HasSuffix(d.Kind, "List") {
			out = append(out, planObject{d.Kind, d.JSON})
			continue
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(d.JSON, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, err)
		}
		for _, item := range list.Items {
			var h struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(item, &h); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Source, err)
			}
			if h.Kind == "" && d.Kind != "List" {
				h.Kind = strings.TrimSuffix(d.Kind, "List") // a PodList's items omit their kind
			}
			out = append(out, planObject{h.Kind, item})
		}
	}
	return out, nil
}

// planReadState reads a ClusterResourceState in protobuf JSON, or a
// GetClusterResourceStateReply that holds one.
func planReadState(path string) (*rpcpb.ClusterResourceState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	// A bare state has no cluster_resource_state field, so it decodes as an
	// empty reply: only a real reply yields a state here.
	reply := &rpcpb.GetClusterResourceStateReply{}
	if err := opts.Unmarshal(data, reply); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st := reply.GetClusterResourceState(); st != nil {
		return st, nil
	}
	st := &rpcpb.ClusterResourceState{}
	if err := opts.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// planPodsFromState stands in for the pod list when none is given: every
// worker node of the state with an instance id is a running pod of its group
// named after that id.
func planPodsFromState(cluster string, st *rpcpb.ClusterResourceState) []corev1.Pod {
	var pods []corev1.Pod
	for _, n := range st.GetNodeStates() {
		if _, head := n.GetTotalResources()[engine.HeadResource]; head || n.GetInstanceId() == "" || n.GetRayNodeTypeName() == engine.HeadGroupName {
			continue
		}
		var p corev1.Pod
		p.Name = n.GetInstanceId()
		p.Labels = map[string]string{
			scaler.LabelCluster:  cluster,
			scaler.LabelGroup:    n.GetRayNodeTypeName(),
			scaler.LabelNodeType: "worker",
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = n.GetNodeIpAddress()
		pods = append(pods, p)
	}
	return pods
}
