package kuberay

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
)

// goldenObject decodes the named object of an accepted golden output.
func goldenObject[T any](t *testing.T, golden, name string) *T {
	t.Helper()
	docs, accepted := goldenOutput(t, filepath.Join(corpusDir, golden+".golden"))
	if !accepted {
		t.Fatalf("%s: not accepted", golden)
	}
	for _, d := range docs {
		if d.Name == name {
			out := new(T)
			if err := json.Unmarshal(d.JSON, out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("%s has no object %s", golden, name)
	return nil
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := encodeWithoutNulls(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJudgeCatches makes sure the judge is not vacuous: expansions broken
// in ways the engine could break them must be refused, each with what
// KubeRay said.
func TestJudgeCatches(t *testing.T) {
	cluster := func(t *testing.T) *rayv1.RayCluster {
		return goldenObject[rayv1.RayCluster](t, "seed", "test-cluster")
	}
	for _, tc := range []struct {
		name   string
		object func(t *testing.T) any
		want   string
	}{
		{"serve annotation, head ports without serve", func(t *testing.T) any {
			rc := cluster(t)
			rc.Annotations["ray.io/enable-serve-service"] = "true"
			ray := &rc.Spec.HeadGroupSpec.Template.Spec.Containers[0]
			ray.Ports = slices.DeleteFunc(ray.Ports, func(p corev1.ContainerPort) bool { return p.Name == "serve" })
			if len(ray.Ports) == 0 {
				ray.Ports = []corev1.ContainerPort{{Name: "gcs-server", ContainerPort: 6379}}
			}
			return rc
		}, "common.BuildServeServiceForRayCluster: Please specify the port named 'serve' in the Ray head container"},
		{"RayService, head ports without serve, no serveService", func(t *testing.T) any {
			svc := goldenObject[rayv1.RayService](t, "rayjob-rayservice", "svc")
			ray := &svc.Spec.RayClusterSpec.HeadGroupSpec.Template.Spec.Containers[0]
			ray.Ports = slices.DeleteFunc(ray.Ports, func(p corev1.ContainerPort) bool { return p.Name == "serve" })
			svc.Spec.ServeService = nil
			return svc
		}, "common.BuildServeServiceForRayService: Please specify the port named 'serve' in the Ray head container"},
		{"no head container", func(t *testing.T) any {
			rc := cluster(t)
			rc.Spec.HeadGroupSpec.Template.Spec.Containers = []corev1.Container{}
			return rc
		}, "utils.ValidateRayClusterSpec: headGroupSpec should have at least one container"},
		{"reference before its definition", func(t *testing.T) any {
			rc := cluster(t)
			ray := &rc.Spec.HeadGroupSpec.Template.Spec.Containers[0]
			ray.Env = append([]corev1.EnvVar{{Name: "X", Value: "$(MY_POD_IP)"}}, ray.Env...)
			return rc
		}, "env X (entry 0) refers to $(MY_POD_IP)"},
		{"reference to a variable KubeRay appends", func(t *testing.T) any {
			rc := cluster(t)
			ray := &rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers[0]
			ray.Env = append(ray.Env, corev1.EnvVar{Name: "HEAD", Value: "$(FQ_RAY_IP):6379"})
			return rc
		}, "refers to $(FQ_RAY_IP)"},
		{"env KubeRay redefines", func(t *testing.T) any {
			rc := cluster(t)
			ray := &rc.Spec.HeadGroupSpec.Template.Spec.Containers[0]
			ray.Env = append(ray.Env, corev1.EnvVar{Name: "RAY_CLUSTER_NAME", Value: "other"})
			return rc
		}, `env RAY_CLUSTER_NAME is valueFrom`},
		{"mount of a missing volume", func(t *testing.T) any {
			rc := cluster(t)
			ray := &rc.Spec.HeadGroupSpec.Template.Spec.Containers[0]
			ray.VolumeMounts = append(ray.VolumeMounts, corev1.VolumeMount{Name: "nowhere", MountPath: "/nowhere"})
			return rc
		}, `mounts volume "nowhere", which the pod does not have`},
		{"no image", func(t *testing.T) any {
			rc := cluster(t)
			rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers[0].Image = ""
			return rc
		}, "has no image"},
		{"name KubeRay refuses", func(t *testing.T) any {
			rc := cluster(t)
			rc.Name = "1-starts-with-a-digit"
			return rc
		}, "utils.ValidateRayClusterMetadata: RayCluster name should be a valid DNS1035 label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := judgeObject(encode(t, tc.object(t)))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %q", tc.want, problems)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	for in, want := range map[string][]string{
		"$(A)":             {"A"},
		"x$(A):$(B)y":      {"A", "B"},
		"$$(A)":            nil,
		"$$$(A)":           {"A"},
		"$(A":              nil,
		"$A $(":            nil,
		"$(MY_POD_IP)$(A)": {"MY_POD_IP", "A"},
	} {
		if got := references(in); !slices.Equal(got, want) {
			t.Errorf("references(%q) = %q, want %q", in, got, want)
		}
	}
}
