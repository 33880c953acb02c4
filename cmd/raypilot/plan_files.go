package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

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
