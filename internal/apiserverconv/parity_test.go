package apiserverconv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// seedDifferences are the fields where the seed's converted cluster,
// expanded, differs from examples/raycluster.yaml expanded, and why. Each
// is either a request field the example does not carry, or a value of the
// seed's the example leaves out; the image is the one place where the
// example does not run what the seed asked for.
var seedDifferences = map[string]string{
	"/metadata/namespace":                        "the requests name their namespace (the API server required one); the example takes kubectl's",
	"/metadata/labels":                           "the request's user, kept as the API server's label ray.io/user; the example names no owner",
	"/spec/rayVersion":                           "the request names no version, so the API server wrote none; the example needs it for its default image (KubeRay v1.5.0 reads rayVersion only for a RayJob's metadata: ray-operator/controllers/ray/common/job.go)",
	"/metadata/annotations/raypilot.io~1volumes": volumeItems,
	"/spec/headGroupSpec/template/spec/volumes/0/configMap/items":      volumeItems,
	"/spec/workerGroupSpecs/0/template/spec/volumes/0/configMap/items": volumeItems,
	"/spec/headGroupSpec/template/spec/containers/0/image":             seedImage,
	"/spec/workerGroupSpecs/0/template/spec/containers/0/image":        seedImage,
	"/spec/autoscalerOptions/image":                                    seedImage + " (the autoscaler runs the head's image)",
	"/spec/headGroupSpec/rayStartParams/dashboard-host":                kubeRayDefault,
	"/spec/headGroupSpec/rayStartParams/metrics-export-port":           kubeRayDefault,
	"/spec/workerGroupSpecs/0/rayStartParams":                          "the seed's node-ip-address $MY_POD_IP is the pod's IP, the address Ray finds itself (python/ray/_private/services.py, get_node_ip_address); the example leaves it out",
}

const (
	volumeItems    = "the seed mounts the two items of ConfigMap ray-example, the example the whole ConfigMap, which holds exactly those two keys: the same files"
	seedImage      = "the example is wrong here: the seed asks for rayproject/ray:2.9.0-py310, the example names no image and gets rayVersion's default, rayproject/ray:2.9.0"
	kubeRayDefault = "the seed sets KubeRay v1.5.0's own default (ray-operator/controllers/ray/common/pod.go); the example leaves it to KubeRay"
)

// The seed's converted requests, expanded as raypilot expand does, give the
// RayCluster that examples/raycluster.yaml with examples/compute-template.yaml
// gives, except for seedDifferences: resources, env, ports, volumes,
// autoscaler, replicas and the audit hash of the template used are the
// same.
func TestSeedExpandsLikeExample(t *testing.T) {
	res := convertFiles(t, Options{}, "testdata/seed/compute-template.json", "testdata/seed/cluster.json")
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	converted := rayCluster(t, expandAll(t, res))

	var docs []manifest.Document
	for _, p := range []string{"../../examples/compute-template.yaml", "../../examples/raycluster.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := manifest.Read(bytes.NewReader(data), p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	out, err := manifest.Expand(docs, defaults.DefaultPolicy(), "default")
	if err != nil || len(out.Errors) > 0 {
		t.Fatalf("examples: %v %q", err, out.Errors)
	}
	example := rayCluster(t, out.Documents)

	got := map[string]bool{}
	diffPaths("", converted, example, got)
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, known := seedDifferences[p]; !known {
			t.Errorf("%s differs: converted %s, example %s", p, at(converted, p), at(example, p))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(seedDifferences)) {
		if !got[p] {
			t.Errorf("%s no longer differs: drop it from seedDifferences", p)
		}
	}
}

// rayCluster returns the RayCluster of docs, decoded.
func rayCluster(t *testing.T, docs []manifest.Document) any {
	t.Helper()
	for _, d := range docs {
		if d.Kind == "RayCluster" {
			var v any
			if err := json.Unmarshal(d.JSON, &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no RayCluster")
	return nil
}

// diffPaths records the JSON pointers (RFC 6901) where a and b differ: a
// key on one side only, a list of another length, or another value.
func diffPaths(p string, a, b any, out map[string]bool) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for _, k := range slices.Sorted(maps.Keys(am)) {
			diffPaths(p+"/"+escape(k), am[k], bm[k], out)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				out[p+"/"+escape(k)] = true
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffPaths(fmt.Sprintf("%s/%d", p, i), al[i], bl[i], out)
		}
		return
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		out[p] = true
	}
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// at is the value at pointer p, as JSON.
func at(v any, p string) string {
	for _, k := range strings.Split(p, "/")[1:] {
		k = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(x) {
				return "<none>"
			}
			v = x[i]
		default:
			return "<none>"
		}
	}
	data, _ := json.Marshal(v)
	return string(data)
}
