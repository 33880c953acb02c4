package engine

import (
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func podSpec(limits, requests corev1.ResourceList) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "ray-worker", Resources: corev1.ResourceRequirements{Limits: limits, Requests: requests},
	}}}}
}

func rayCluster(workers ...rayv1.WorkerGroupSpec) *rayv1.RayCluster {
	rc := &rayv1.RayCluster{}
	rc.Spec.HeadGroupSpec = rayv1.HeadGroupSpec{RayStartParams: map[string]string{"num-cpus": "0"}, Template: podSpec(nil, nil)}
	rc.Spec.WorkerGroupSpecs = workers
	return rc
}

func worker(name string, params map[string]string, tmpl corev1.PodTemplateSpec) rayv1.WorkerGroupSpec {
	return rayv1.WorkerGroupSpec{GroupName: name, RayStartParams: params, Template: tmpl,
		MinReplicas: ptr(int32(0)), MaxReplicas: ptr(int32(5))}
}

func TestRayResources(t *testing.T) {
	cases := []struct {
		name     string
		params   map[string]string
		groupRes map[string]string
		limits   corev1.ResourceList
		requests corev1.ResourceList
		selector map[string]string
		want     R
		err      string
	}{
		{name: "CPU from num-cpus over the limit", params: map[string]string{"num-cpus": "3"}, limits: rl("cpu", "8"), want: R{"CPU": 3}},
		{name: "CPU from the limit over the request", limits: rl("cpu", "2"), requests: rl("cpu", "1"), want: R{"CPU": 2}},
		{name: "CPU from the request", requests: rl("cpu", "1500m"), want: R{"CPU": 2}},
		{name: "CPU rounded up", limits: rl("cpu", "500m"), want: R{"CPU": 1}},
		{name: "CPU zero from num-cpus", params: map[string]string{"num-cpus": "0"}, limits: rl("cpu", "4"), want: R{"CPU": 0}},
		{name: "group resources CPU over num-cpus", params: map[string]string{"num-cpus": "1"}, groupRes: map[string]string{"CPU": "6"}, want: R{"CPU": 6}},
		{name: "group resources cpu rounded up", groupRes: map[string]string{"cpu": "2500m"}, want: R{"CPU": 3}},
		{name: "undetectable CPU", err: "Autoscaler failed to detect `CPU` resources for group g. Set the `--num-cpus` rayStartParam and/or the CPU resource limit for the Ray container."},
		{name: "num-cpus not an integer", params: map[string]string{"num-cpus": "1.5"}, err: "not an integer"},
		{name: "GPU from num-gpus", params: map[string]string{"num-cpus": "1", "num-gpus": "2"}, limits: rl("nvidia.com/gpu", "4"), want: R{"CPU": 1, "GPU": 2}},
		{name: "GPU zero from num-gpus is kept", params: map[string]string{"num-cpus": "1", "num-gpus": "0"}, want: R{"CPU": 1, "GPU": 0}},
		{name: "GPU from a limits key ending in gpu", limits: rl("cpu", "1", "nvidia.com/gpu", "1"), want: R{"CPU": 1, "GPU": 1}},
		{name: "GPU from requests when limits have none", limits: rl("cpu", "1"), requests: rl("amd.com/gpu", "2"), want: R{"CPU": 1, "GPU": 2}},
		{name: "GPU key not ending in gpu is ignored", limits: rl("cpu", "1", "aliyun.com/gpu-mem", "8"), want: R{"CPU": 1}},
		{name: "GPU zero limit falls through to requests", limits: rl("cpu", "1", "nvidia.com/gpu", "0"), requests: rl("nvidia.com/gpu", "1"), want: R{"CPU": 1, "GPU": 1}},
		{name: "group resources GPU key", groupRes: map[string]string{"cpu": "1", "nvidia.com/gpu": "2"}, want: R{"CPU": 1, "GPU": 2}},
		{name: "group resources MIG key is a GPU", groupRes: map[string]string{"cpu": "1", "nvidia.com/mig-1g.10gb": "1"}, want: R{"CPU": 1, "GPU": 1}},
		{name: "memory from rayStartParams", params: map[string]string{"num-cpus": "1", "memory": "1000"}, limits: rl("memory", "1Gi"), want: R{"CPU": 1, "memory": 1000}},
		{name: "memory from the limit", limits: rl("cpu", "1", "memory", "1Gi"), requests: rl("memory", "512Mi"), want: R{"CPU": 1, "memory": 1 << 30}},
		{name: "memory from the request, rounded up", limits: rl("cpu", "1"), requests: rl("memory", "1.5"), want: R{"CPU": 1, "memory": 2}},
		{name: "memory not an integer", params: map[string]string{"num-cpus": "1", "memory": "1Gi"}, err: "not an integer"},
		{name: "group resources memory", groupRes: map[string]string{"cpu": "1", "memory": "2Gi"}, want: R{"CPU": 1, "memory": 2 << 30}},
		{name: "custom resources JSON with quotes and backslashes", params: map[string]string{"num-cpus": "1", "resources": `"{\"Custom1\": 1, \"Custom2\": 5}"`}, want: R{"CPU": 1, "Custom1": 1, "Custom2": 5}},
		{name: "custom resources in single quotes", params: map[string]string{"num-cpus": "1", "resources": `'{"Custom1": 2}'`}, want: R{"CPU": 1, "Custom1": 2}},
		{name: "custom resources override CPU", params: map[string]string{"num-cpus": "1", "resources": `'{"CPU": 7}'`}, want: R{"CPU": 7}},
		{name: "custom resources unparsable", params: map[string]string{"num-cpus": "1", "resources": `{"Custom1": 1}`}, err: "Error reading `resource` rayStartParam for group g"},
		{name: "custom resources not numbers", params: map[string]string{"num-cpus": "1", "resources": `'{"Custom1": "x"}'`}, err: "is not a number"},
		{name: "group resources custom entries", groupRes: map[string]string{"cpu": "1", "accel": "2"}, want: R{"CPU": 1, "accel": 2}},
		{name: "TPU from google.com/tpu with GKE selectors", limits: rl("cpu", "1", "google.com/tpu", "4"),
			selector: map[string]string{gkeTPUTopology: "2x2x2", gkeTPUAccelerator: "tpu-v4-podslice"},
			want:     R{"CPU": 1, "TPU": 4, "TPU-v4-16-head": 1}},
		{name: "TPU v5e head", requests: rl("cpu", "1", "google.com/tpu", "4"),
			selector: map[string]string{gkeTPUTopology: "2x4", gkeTPUAccelerator: "tpu-v5-lite-podslice"},
			want:     R{"CPU": 1, "TPU": 4, "TPU-v5e-8-head": 1}},
		{name: "TPU without selectors has no head resource", limits: rl("cpu", "1", "google.com/tpu", "4"), want: R{"CPU": 1, "TPU": 4}},
		{name: "TPU from custom resources wins", params: map[string]string{"resources": `'{"TPU": 8}'`}, limits: rl("cpu", "1", "google.com/tpu", "4"),
			selector: map[string]string{gkeTPUTopology: "2x2", gkeTPUAccelerator: "tpu-v6e-slice"},
			want:     R{"CPU": 1, "TPU": 8, "TPU-v6e-4-head": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := podSpec(tc.limits, tc.requests)
			tmpl.Spec.NodeSelector = tc.selector
			got, err := rayResources("g", tc.params, tc.groupRes, &tmpl.Spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeTypesFromRayCluster(t *testing.T) {
	cpu1 := map[string]string{"num-cpus": "1"}
	t.Run("defaults", func(t *testing.T) {
		w := worker("small", cpu1, podSpec(nil, nil))
		w.MinReplicas, w.MaxReplicas = nil, nil
		c, err := NodeTypesFromRayCluster(rayCluster(w))
		if err != nil {
			t.Fatal(err)
		}
		if c.IdleTimeout != 60*time.Second || c.UpscalingSpeed != 1000 || len(c.Groups) != 1 {
			t.Fatalf("cluster %+v", c)
		}
		g := c.Groups[0]
		if g.MinReplicas != 0 || g.MaxReplicas != math.MaxInt32 || g.Replicas != 0 || g.NumOfHosts != 1 || g.IdleTimeout != nil {
			t.Errorf("group %+v", g)
		}
	})
	t.Run("autoscaler options", func(t *testing.T) {
		for _, tc := range []struct {
			mode  rayv1.UpscalingMode
			speed float64
		}{{"Conservative", 1}, {"Default", 1000}, {"Aggressive", 1000}} {
			rc := rayCluster(worker("small", cpu1, podSpec(nil, nil)))
			rc.Spec.AutoscalerOptions = &rayv1.AutoscalerOptions{IdleTimeoutSeconds: ptr(int32(30)), UpscalingMode: ptr(tc.mode)}
			c, err := NodeTypesFromRayCluster(rc)
			if err != nil {
				t.Fatal(err)
			}
			if c.IdleTimeout != 30*time.Second || c.UpscalingSpeed != tc.speed {
				t.Errorf("%s: idle %v speed %v", tc.mode, c.IdleTimeout, c.UpscalingSpeed)
			}
		}
	})
	t.Run("min and max times numOfHosts, replicas, per-group idle timeout, labels", func(t *testing.T) {
		w := worker("tpu", cpu1, podSpec(nil, nil))
		w.MinReplicas, w.MaxReplicas, w.Replicas, w.NumOfHosts = ptr(int32(1)), ptr(int32(3)), ptr(int32(2)), 4
		w.IdleTimeoutSeconds = ptr(int32(5))
		w.Labels = map[string]string{"acc": "v6e"}
		c, err := NodeTypesFromRayCluster(rayCluster(w))
		if err != nil {
			t.Fatal(err)
		}
		g := c.Groups[0]
		if g.MinWorkers() != 4 || g.MaxWorkers() != 12 || g.Replicas != 2 || *g.IdleTimeout != 5*time.Second || g.Labels["acc"] != "v6e" {
			t.Errorf("group %+v", g)
		}
	})
	t.Run("absent replicas reads as minReplicas", func(t *testing.T) {
		w := worker("small", cpu1, podSpec(nil, nil))
		w.MinReplicas = ptr(int32(2))
		c, _ := NodeTypesFromRayCluster(rayCluster(w))
		if c.Groups[0].Replicas != 2 {
			t.Errorf("replicas %d", c.Groups[0].Replicas)
		}
	})
	t.Run("worker without CPU fails", func(t *testing.T) {
		_, err := NodeTypesFromRayCluster(rayCluster(worker("small", nil, podSpec(nil, nil))))
		if err == nil || !strings.Contains(err.Error(), "group small") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("head without CPU fails like Ray", func(t *testing.T) {
		rc := rayCluster(worker("small", cpu1, podSpec(nil, nil)))
		rc.Spec.HeadGroupSpec.RayStartParams = nil
		_, err := NodeTypesFromRayCluster(rc)
		if err == nil || !strings.Contains(err.Error(), "group headgroup") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("the seed cluster", func(t *testing.T) {
		w := worker("small-wg", nil, podSpec(rl("cpu", "2", "memory", "4Gi"), rl("cpu", "2", "memory", "4Gi")))
		rc := rayCluster(w)
		rc.Spec.AutoscalerOptions = &rayv1.AutoscalerOptions{IdleTimeoutSeconds: ptr(int32(30)), UpscalingMode: ptr(rayv1.UpscalingMode("Default"))}
		c, err := NodeTypesFromRayCluster(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(c.Groups[0].Resources, R{"CPU": 2, "memory": 4 << 30}) {
			t.Errorf("resources %v", c.Groups[0].Resources)
		}
	})
}
