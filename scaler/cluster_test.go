package scaler

import (
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
)

func burstCluster(mode rayv1.UpscalingMode) *rayv1.RayCluster {
	ctr := func(cpu string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ray",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi")}}}}}}
	}
	return &rayv1.RayCluster{Spec: rayv1.RayClusterSpec{
		AutoscalerOptions: &rayv1.AutoscalerOptions{UpscalingMode: &mode},
		HeadGroupSpec:     rayv1.HeadGroupSpec{RayStartParams: map[string]string{"num-cpus": "0"}, Template: ctr("2")},
		WorkerGroupSpecs: []rayv1.WorkerGroupSpec{{GroupName: "wg", MinReplicas: ptr.To[int32](0), MaxReplicas: ptr.To[int32](300),
			Replicas: ptr.To[int32](0), Template: ctr("4")}},
	}}
}

// A burst is answered in one decision: 1,000 pending {CPU: 1} on 4-CPU
// workers asks for all 250 workers at once (Ray's v2 autoscaler asks for
// about 10 per loop), while Conservative mode still paces it.
func TestBurstIsAnsweredInOneDecision(t *testing.T) {
	head := engine.Node{ID: "h", InstanceID: "head", Type: "headgroup", Status: engine.NodeRunning,
		Total: map[string]float64{engine.HeadResource: 1}, Available: map[string]float64{engine.HeadResource: 1}}
	state := engine.State{Nodes: []engine.Node{head}, Pending: []engine.ShapeCount{{Request: engine.Request{Resources: map[string]float64{"CPU": 1}}, Count: 1000}}}
	for _, tc := range []struct {
		mode rayv1.UpscalingMode
		want int
	}{{"Default", 250}, {"Aggressive", 250}, {"Conservative", 1}} {
		c, err := ClusterFor(burstCluster(tc.mode), defaults.DefaultPolicy())
		if err != nil {
			t.Fatal(err)
		}
		plan := engine.Decide(c, state, nil, time.Unix(0, 0))
		if plan.Launch["wg"] != tc.want || plan.Replicas["wg"] != tc.want {
			t.Errorf("%s: launch %d, replicas %d; want %d", tc.mode, plan.Launch["wg"], plan.Replicas["wg"], tc.want)
		}
	}
}
