package raysim

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Resource names Ray uses.
const (
	headResource = "node:__internal_head__"
	cpu          = "CPU"
	gpu          = "GPU"
	memory       = "memory"
)

var startFlag = regexp.MustCompile(`--(num-cpus|num-gpus|memory|resources|labels)=('[^']*'|"[^"]*"|\S+)`)

// startFlags returns the flags raysim reads from the `ray start` command
// KubeRay generated for pod p (env KUBERAY_GEN_RAY_START_CMD), unquoted.
func startFlags(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	c := rayContainer(p)
	if c == nil {
		return out
	}
	for _, e := range c.Env {
		if e.Name != "KUBERAY_GEN_RAY_START_CMD" {
			continue
		}
		for _, m := range startFlag.FindAllStringSubmatch(e.Value, -1) {
			out[m[1]] = strings.Trim(m[2], `'"`)
		}
	}
	return out
}

// podResources returns what a raylet in pod p would advertise: the values of
// the `ray start` command KubeRay generated (env KUBERAY_GEN_RAY_START_CMD),
// else the Ray container's limits (CPU rounded up, like KubeRay does).
func podResources(p *corev1.Pod) map[string]float64 {
	out := map[string]float64{}
	c := rayContainer(p)
	if c == nil {
		return out
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		out[cpu] = float64(q.Value())
	} else if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		out[cpu] = float64(q.Value())
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		out[memory] = float64(q.Value())
	}
	for name, q := range c.Resources.Limits {
		if strings.HasSuffix(string(name), "gpu") && q.Value() > 0 {
			out[gpu] = float64(q.Value())
		}
	}
	for flag, val := range startFlags(p) {
		switch flag {
		case "num-cpus":
			setNumber(out, cpu, val)
		case "num-gpus":
			setNumber(out, gpu, val)
		case "memory":
			setNumber(out, memory, val)
		case "resources":
			custom := map[string]float64{}
			if json.Unmarshal([]byte(strings.ReplaceAll(val, `\`, "")), &custom) == nil {
				for k, v := range custom {
					out[k] = v
				}
			}
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	if p.Labels["ray.io/node-type"] == "head" {
		out[headResource] = 1
	}
	if p.Status.PodIP != "" {
		out["node:"+p.Status.PodIP] = 1
	}
	return out
}

func setNumber(m map[string]float64, key, val string) {
	if f, err := strconv.ParseFloat(val, 64); err == nil && !math.IsNaN(f) {
		m[key] = f
	}
}

// fits reports whether need fits into avail.
func fits(need, avail map[string]float64) bool {
	for k, v := range need {
		if v > 0 && avail[k] < v-1e-9 {
			return false
		}
	}
	return true
}

func subtract(avail, need map[string]float64) {
	for k, v := range need {
		avail[k] -= v
	}
}

func add(avail, need map[string]float64) {
	for k, v := range need {
		avail[k] += v
	}
}

func clone(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sum(bundles []map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, b := range bundles {
		add(out, b)
	}
	return out
}

// shapeKey is a canonical text for a resource shape.
func shapeKey(m map[string]float64) string {
	data, _ := json.Marshal(m) // map keys are sorted
	return string(data)
}
