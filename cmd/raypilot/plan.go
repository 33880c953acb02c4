package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// planOutput is the JSON document `raypilot plan` prints.
type planOutput struct {
	Launch    map[string]int    `json:"launch"`
	Terminate []planTermination `json:"terminate"`
	// UnnamedTerminations counts, per group, the terminations the plan
	// decided but cannot name: without --pods no pod name can be verified.
	UnnamedTerminations map[string]int `json:"unnamedTerminations"`
	Infeasible          planInfeasible `json:"infeasible"`
	Replicas            map[string]int `json:"replicas"`
	Decisions           []string       `json:"decisions"`
	// Truncated is set when the demand was too large for one scaling round.
	Truncated *planTruncation `json:"truncated,omitempty"`
	// Notes say what the plan left out or alone: unnamed terminations,
	// ignored pods, truncated demand, Ray nodes in an unknown status.
	Notes []string `json:"notes"`
}

// planTermination is one pod the engine would remove.
type planTermination struct {
	Pod    string `json:"pod"`
	Group  string `json:"group"`
	Cause  string `json:"cause"`
	Reason string `json:"reason,omitempty"`
}

// planTruncation is engine.Truncation: what one scaling round decided on
// of the demand, and how much there was.
type planTruncation struct {
	Shapes       int `json:"shapes"`
	ShapesTotal  int `json:"shapesTotal"`
	Requests     int `json:"requestsLeftOut"`
	Gangs        int `json:"placementGroups"`
	GangsTotal   int `json:"placementGroupsTotal"`
	Bundles      int `json:"constraintShapes"`
	BundlesTotal int `json:"constraintShapesTotal"`
	Replicas     int `json:"replicasNotModelled"`
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

// newPlanCommand is `raypilot plan`: it runs the scaling engine once,
// offline, on a stored RayCluster and a Ray ClusterResourceState and prints
// the plan as JSON. Exit 0 with the plan on stdout, 1 when an input cannot
// be read or parsed, 2 on usage errors.
func newPlanCommand() *cobra.Command {
	var clusterFile, stateFile, podsFile, policyFile, nowFlag string
	cmd := &cobra.Command{
		Use:   "plan -f RAYCLUSTER --ray-state FILE [flags]",
		Short: "Decide one scaling round offline, as the scaler would",
		Long: `Run the scaler's decision once, offline, on a RayCluster as stored and Ray's
ClusterResourceState (protobuf JSON, or a GetClusterResourceStateReply), and
print the plan as JSON: workers to launch and terminate, infeasible demand,
the replicas per group and why.

Only pods of --pods are ever named in "terminate": workers of the group in
the RayCluster's namespace with a valid pod name. Without --pods the
terminations are counted per group in "unnamedTerminations".
Exit 0 with the plan on stdout, 1 when an input cannot be read or parsed, 2
on usage errors.`,
		Example: `  # Why did (or didn't) test-cluster scale?
  kubectl get raycluster test-cluster -o yaml > rc.yaml
  kubectl get pods -l ray.io/cluster=test-cluster -o json > pods.json
  raypilot plan -f rc.yaml --ray-state state.json --pods pods.json

  # The RayCluster from stdin, the chart's policy, a fixed clock
  kubectl get raycluster test-cluster -o yaml | \
    raypilot plan -f - --ray-state state.json --policy policy.yaml --now 2024-01-01T00:10:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clusterFile == "" || stateFile == "" {
				return usageErrorf("-f/--filename (the RayCluster) and --ray-state are required")
			}
			now := time.Now()
			if nowFlag != "" {
				t, err := time.Parse(time.RFC3339, nowFlag)
				if err != nil {
					return usageErrorf("--now: %w", err)
				}
				now = t
			}
			out, err := plan(cmd.InOrStdin(), clusterFile, stateFile, podsFile, policyFile, now)
			if err != nil {
				return failure(err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false) // keep the reasons' ">" readable
			if err := enc.Encode(out); err != nil {
				return failure(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&clusterFile, "filename", "f", "", "the RayCluster as stored (expanded), YAML or JSON; - is stdin")
	deprecatedAlias(fs, "raycluster", "filename")
	fs.StringVar(&stateFile, "ray-state", "", "Ray's ClusterResourceState as protobuf JSON")
	fs.StringVar(&podsFile, "pods", "", "the cluster's pods: a v1 List or YAML documents (default: one running pod per Ray worker node)")
	fs.StringVar(&policyFile, "policy", "", "policy document (limits.maxWorkersPerCluster caps the workers)")
	fs.StringVar(&nowFlag, "now", "", "the clock, RFC3339 (default: now)")
	return cmd
}

// plan reads the inputs (clusterFile "-" is stdin) and decides.
func plan(stdin io.Reader, clusterFile, stateFile, podsFile, policyFile string, now time.Time) (planOutput, error) {
	rc, err := planReadRayCluster(clusterFile, stdin)
	if err != nil {
		return planOutput{}, err
	}
	policy := defaults.DefaultPolicy()
	if policyFile != "" {
		data, err := os.ReadFile(policyFile)
		if err != nil {
			return planOutput{}, err
		}
		if policy, err = defaults.ParsePolicy(data); err != nil {
			return planOutput{}, fmt.Errorf("%s: %w", policyFile, err)
		}
	}
	st, err := planReadState(stateFile)
	if err != nil {
		return planOutput{}, err
	}
	var pods []corev1.Pod
	var notes []string
	if podsFile != "" {
		if pods, err = planReadPods(podsFile); err != nil {
			return planOutput{}, err
		}
		pods, notes = planVerifiedPods(rc, pods)
	} else {
		pods = planPodsFromState(rc.Name, st)
	}

	decision, err := scaler.Decide(rc, policy, st, pods, now)
	if err != nil {
		return planOutput{}, fmt.Errorf("%s: %w", clusterFile, err)
	}
	out := planToOutput(decision.Plan, rc, pods, podsFile != "")
	out.Notes = append(append([]string{}, notes...), out.Notes...)
	return out, nil
}

// planToOutput renders the plan with empty collections instead of nulls.
// A termination is listed by name only when it names a pod of pods (the
// verified --pods input, named says there was one) that is a worker of the
// termination's group in rc; any other is only counted in
// UnnamedTerminations, and a note says why.
func planToOutput(p engine.Plan, rc *rayv1.RayCluster, pods []corev1.Pod, named bool) planOutput {
	out := planOutput{
		Launch:              map[string]int{},
		Terminate:           []planTermination{},
		UnnamedTerminations: map[string]int{},
		Infeasible: planInfeasible{
			Requests:    []planRequest{},
			Gangs:       len(p.Infeasible.Gangs),
			Constraints: len(p.Infeasible.Constraints),
		},
		Replicas:  map[string]int{},
		Decisions: []string{},
		Notes:     []string{},
	}
	if t := p.Truncated; t != nil {
		out.Truncated = &planTruncation{t.Shapes, t.ShapesTotal, t.Requests, t.Gangs, t.GangsTotal, t.Bundles, t.BundlesTotal, t.Replicas}
	}
	for g, n := range p.Launch {
		if n > 0 {
			out.Launch[g] = n
		}
	}
	for g, n := range p.Replicas {
		out.Replicas[g] = n
	}
	workers := map[string]string{} // verified worker pod → group
	if named {
		for i := range pods {
			if p := &pods[i]; p.Labels[scaler.LabelNodeType] == "worker" && p.Labels[scaler.LabelCluster] == rc.Name {
				workers[p.Name] = p.Labels[scaler.LabelGroup]
			}
		}
	}
	unnamed := 0
	for _, t := range p.Terminate {
		if g, ok := workers[t.Pod]; !ok || g != t.Group || !planHasGroup(rc, t.Group) {
			out.UnnamedTerminations[t.Group]++
			unnamed++
			continue
		}
		out.Terminate = append(out.Terminate, planTermination{Pod: t.Pod, Group: t.Group, Cause: string(t.Cause), Reason: t.Reason})
	}
	switch {
	case unnamed > 0 && !named:
		out.Notes = append(out.Notes, fmt.Sprintf("%s counted, not named: without --pods no pod name can be verified; pass the cluster's pods with --pods to name them", planPlural(unnamed, "termination")))
	case unnamed > 0:
		out.Notes = append(out.Notes, fmt.Sprintf("%s counted, not named: not a worker pod of its group in --pods", planPlural(unnamed, "termination")))
	}
	for _, r := range p.Infeasible.Requests {
		out.Infeasible.Requests = append(out.Infeasible.Requests, planRequest{Resources: r.Resources, Count: r.Count})
	}
	for _, d := range p.Decisions {
		out.Decisions = append(out.Decisions, d.String())
	}
	if p.Truncated != nil {
		out.Notes = append(out.Notes, p.Truncated.String())
	}
	out.Notes = append(out.Notes, p.Warnings...)
	return out
}

func planHasGroup(rc *rayv1.RayCluster, group string) bool {
	for _, g := range rc.Spec.WorkerGroupSpecs {
		if g.GroupName == group {
			return true
		}
	}
	return false
}

func planPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// planVerifiedPods keeps the pods that can be pods of rc: in its namespace
// (default when unset) and with a valid pod name. A pods file is data, not
// the API server: a name such as "../other" or another namespace's pod must
// never be proposed for deletion. The notes say what was ignored.
func planVerifiedPods(rc *rayv1.RayCluster, pods []corev1.Pod) ([]corev1.Pod, []string) {
	ns := func(s string) string {
		if s == "" {
			return metav1.NamespaceDefault
		}
		return s
	}
	var kept []corev1.Pod
	var foreign, invalid []string
	for _, p := range pods {
		switch {
		case len(validation.IsDNS1123Subdomain(p.Name)) > 0:
			invalid = append(invalid, fmt.Sprintf("%q", p.Name))
		case ns(p.Namespace) != ns(rc.Namespace):
			foreign = append(foreign, p.Namespace+"/"+p.Name)
		default:
			kept = append(kept, p)
		}
	}
	var notes []string
	if len(invalid) > 0 {
		notes = append(notes, fmt.Sprintf("ignored %s with an invalid pod name: %s", planPlural(len(invalid), "pod"), strings.Join(invalid, ", ")))
	}
	if len(foreign) > 0 {
		notes = append(notes, fmt.Sprintf("ignored %s outside namespace %s: %s", planPlural(len(foreign), "pod"), ns(rc.Namespace), strings.Join(foreign, ", ")))
	}
	return kept, notes
}

// planReadRayCluster reads the one RayCluster of a YAML or JSON file ("-":
// stdin); other documents, such as the ComputeTemplate `raypilot expand`
// also prints, are skipped.
func planReadRayCluster(path string, stdin io.Reader) (*rayv1.RayCluster, error) {
	docs, err := readDocuments(path, stdin)
	if err != nil {
		return nil, err
	}
	objs, err := planObjects(docs)
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	docs, err := manifest.Read(f, path)
	if err != nil {
		return nil, err
	}
	objs, err := planObjects(docs)
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

// planObjects are the objects of YAML (or JSON) documents; the items of a
// List (or any kind ending in "List") replace the List.
func planObjects(docs []manifest.Document) ([]planObject, error) {
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

// planPodsFromState stands in for the pod list when none is given, so that
// the decision counts right: every worker node of the state whose instance
// id is a valid pod name is a running pod of its type's group named after
// that id. The head is recognised by Ray's head resource. These names come
// from Ray, not from Kubernetes, so planToOutput never prints them.
func planPodsFromState(cluster string, st *rpcpb.ClusterResourceState) []corev1.Pod {
	var pods []corev1.Pod
	for _, n := range st.GetNodeStates() {
		if _, head := n.GetTotalResources()[engine.HeadResource]; head || len(validation.IsDNS1123Subdomain(n.GetInstanceId())) > 0 {
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
