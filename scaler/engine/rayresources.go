package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/raypilot/raypilot/internal/quantity"
)

// GKE TPU node selectors that give a TPU group its TPU-<type>-head resource.
const (
	gkeTPUTopology    = "cloud.google.com/gke-tpu-topology"
	gkeTPUAccelerator = "cloud.google.com/gke-tpu-accelerator"
	tpuResource       = corev1.ResourceName("google.com/tpu")
)

// gkeTPUGeneration maps the GKE accelerator selector to the TPU generation
// Ray names the head resource after.
var gkeTPUGeneration = map[string]string{
	"tpu-v4-podslice":      "v4",
	"tpu-v5-lite-device":   "v5e",
	"tpu-v5-lite-podslice": "v5e",
	"tpu-v5p-slice":        "v5p",
	"tpu-v6e-slice":        "v6e",
}

// rayResources derives the Ray resources of one group the way Ray's KubeRay
// config reader does, after applying the group's top-level resources field
// the way the KubeRay operator does when it builds the pod (the field
// overrides rayStartParams, so it wins):
//
//   - CPU: rayStartParams num-cpus, else the Ray container's (containers[0])
//     cpu limit, else its cpu request, rounded up; an error when none is set;
//   - GPU: num-gpus, else the first limits then requests key ending in "gpu"
//     whose value rounds up above 0;
//   - memory: rayStartParams memory (bytes), else the memory limit, else the
//     request, rounded up;
//   - custom: the rayStartParams resources JSON, written with an extra pair
//     of quotes and escaped quotes ('"{\"Custom1\": 1}"'): the first and last
//     characters are dropped and backslashes removed before parsing; custom
//     entries override the others;
//   - TPU: custom TPU, else google.com/tpu in limits then requests, plus
//     TPU-<generation>-<cores>-head: 1 when the GKE TPU node selectors are
//     set.
func rayResources(group string, params, groupRes map[string]string, pod *corev1.PodSpec) (map[string]float64, error) {
	params = withGroupResources(params, groupRes)
	var k8s corev1.ResourceRequirements
	if len(pod.Containers) > 0 {
		k8s = pod.Containers[0].Resources
	}
	res := map[string]float64{}

	cpu, err := intParam(params, "num-cpus", group)
	switch {
	case err != nil:
		return nil, err
	case cpu != nil:
		res["CPU"] = *cpu
	default:
		q, ok := k8s.Limits[corev1.ResourceCPU]
		if !ok {
			q, ok = k8s.Requests[corev1.ResourceCPU]
		}
		if !ok {
			return nil, fmt.Errorf("Autoscaler failed to detect `CPU` resources for group %s. "+
				"Set the `--num-cpus` rayStartParam and/or the CPU resource limit for the Ray container.", group)
		}
		res["CPU"] = roundUp(q)
	}

	gpu, err := intParam(params, "num-gpus", group)
	if err != nil {
		return nil, err
	}
	if gpu == nil {
		gpu = firstGPU(k8s)
	}
	if gpu != nil {
		res["GPU"] = *gpu
	}

	custom, err := customResources(params, group)
	if err != nil {
		return nil, err
	}
	if tpu, ok := tpus(custom, k8s); ok {
		if _, set := custom["TPU"]; !set {
			res["TPU"] = tpu
		}
		if t := tpuType(pod.NodeSelector[gkeTPUTopology], pod.NodeSelector[gkeTPUAccelerator]); t != "" {
			res["TPU-"+t+"-head"] = 1
		}
	}

	mem, err := intParam(params, "memory", group)
	switch {
	case err != nil:
		return nil, err
	case mem != nil:
		res["memory"] = *mem
	default:
		if q, ok := k8s.Limits[corev1.ResourceMemory]; ok {
			res["memory"] = roundUp(q)
		} else if q, ok := k8s.Requests[corev1.ResourceMemory]; ok {
			res["memory"] = roundUp(q)
		}
	}

	for k, v := range custom {
		res[k] = v
	}
	return res, nil
}

// migGPU matches NVIDIA MIG resource names, which the operator also treats as
// GPUs when they appear in a group's resources field.
var migGPU = regexp.MustCompile(`nvidia\.com/mig-\d+g\.\d+gb$`)

// withGroupResources applies a group's resources field to its rayStartParams
// as the KubeRay operator does (updateRayStartParamsResources): cpu, memory
// and GPU keys become num-cpus, memory and num-gpus (rounded up), everything
// else becomes the resources JSON. Unparsable quantities are skipped.
func withGroupResources(params, groupRes map[string]string) map[string]string {
	if len(groupRes) == 0 {
		return params
	}
	out := make(map[string]string, len(params)+3)
	for k, v := range params {
		out[k] = v
	}
	custom := map[string]float64{}
	for name, s := range groupRes {
		q, err := quantity.Parse(s)
		if err != nil {
			continue
		}
		switch lower := strings.ToLower(name); {
		case lower == "cpu":
			out["num-cpus"] = strconv.FormatInt(q.Value(), 10)
		case lower == "memory":
			out["memory"] = strconv.FormatInt(q.Value(), 10)
		case strings.HasSuffix(lower, "gpu") || migGPU.MatchString(lower):
			out["num-gpus"] = strconv.FormatInt(q.Value(), 10)
		default:
			custom[name] = q.AsApproximateFloat64()
		}
	}
	if len(custom) > 0 {
		b, _ := json.Marshal(custom) // a map of finite floats always marshals
		out["resources"] = "'" + string(b) + "'"
	}
	return out
}

// intParam reads an integer rayStartParam (Python's int()); nil when absent.
func intParam(params map[string]string, key, group string) (*float64, error) {
	s, ok := params[key]
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("group %s: rayStartParams %s=%q is not an integer", group, key, s)
	}
	v := float64(n)
	return &v, nil
}

// roundUp rounds a quantity up to an integer, as Ray's _round_up_k8s_quantity.
func roundUp(q resource.Quantity) float64 {
	return float64(q.Value())
}

// firstGPU finds the first limits, then requests, key ending in "gpu" whose
// value rounds up above zero. Keys are taken in sorted order: Kubernetes maps
// have no order, and sorted is what a manifest usually shows.
func firstGPU(k8s corev1.ResourceRequirements) *float64 {
	for _, list := range []corev1.ResourceList{k8s.Limits, k8s.Requests} {
		for _, name := range slices.Sorted(maps.Keys(list)) {
			if !strings.HasSuffix(string(name), "gpu") {
				continue
			}
			if n := roundUp(list[name]); n > 0 {
				return &n
			}
		}
	}
	return nil
}

// customResources parses the rayStartParams resources string.
func customResources(params map[string]string, group string) (map[string]float64, error) {
	s, ok := params["resources"]
	if !ok {
		return nil, nil
	}
	bad := func(err error) error {
		return fmt.Errorf("Error reading `resource` rayStartParam for group %s: %v", group, err)
	}
	if len(s) < 2 {
		return nil, bad(fmt.Errorf("%q is not a quoted JSON object", s))
	}
	body := strings.ReplaceAll(s[1:len(s)-1], `\`, "")
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, bad(err)
	}
	if raw == nil {
		return nil, bad(fmt.Errorf("%q is not a JSON object", body))
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad(fmt.Errorf("resource %q: %v is not a number", k, v))
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, bad(fmt.Errorf("resource %q: %v is not a number", k, v))
		}
		out[k] = f
	}
	return out, nil
}

// tpus returns the TPU count: custom TPU first, else google.com/tpu in limits
// then requests when it rounds up above zero.
func tpus(custom map[string]float64, k8s corev1.ResourceRequirements) (float64, bool) {
	if v, ok := custom["TPU"]; ok {
		return v, true
	}
	for _, list := range []corev1.ResourceList{k8s.Limits, k8s.Requests} {
		if q, ok := list[tpuResource]; ok {
			if n := roundUp(q); n > 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// tpuType turns the GKE TPU selectors into Ray's accelerator type, e.g.
// ("2x2x2", "tpu-v4-podslice") → "v4-16": chips times cores per chip (2 on
// v4 and v5p). Unknown values give "" (Ray raises; skipping only loses the
// head resource).
func tpuType(topology, accelerator string) string {
	gen, ok := gkeTPUGeneration[accelerator]
	if topology == "" || !ok {
		return ""
	}
	chips := 1
	for _, d := range strings.Split(topology, "x") {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 1<<20 {
			return ""
		}
		if chips *= n; chips > 1<<30 {
			return ""
		}
	}
	if gen == "v4" || gen == "v5p" {
		chips *= 2
	}
	return fmt.Sprintf("%s-%d", gen, chips)
}
