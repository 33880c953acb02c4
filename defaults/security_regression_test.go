package defaults_test

// Regression tests for policy bypasses found while writing security_test.go,
// fixed since.

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

func mustQuantity(t *testing.T, s string) *resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return &q
}

func errText(errs field.ErrorList) string {
	if len(errs) == 0 {
		return ""
	}
	return errs.ToAggregate().Error()
}

const inTreeCluster = `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","namespace":"default"},
"spec":{"rayVersion":"2.9.0","enableInTreeAutoscaling":true,"autoscalerOptions":%s,"headGroupSpec":{"template":{}}}}`

// Regression: in in-tree mode KubeRay v1.5.0 builds the autoscaler sidecar of the
// head pod from spec.autoscalerOptions (image, securityContext, resources),
// but the engine applied neither the enforced containerSecurityContext nor
// limits.allowedImagePrefixes nor limits.maxCPUPerPod to it: a user got a
// privileged container with any image in the head pod under a policy that
// forbids both. The sidecar is now held to the policy like any container.
func TestRegressionInTreeAutoscalerSidecarEscapesPolicy(t *testing.T) {
	policy := enforcingPolicy(t) // in-tree mode, containerSecurityContext enforced, registry.internal/ only
	policy.Limits.MaxCPUPerPod = mustQuantity(t, "1")
	cases := []struct {
		name, opts string
		rejected   string // an error naming this
		enforced   string // or spec.autoscalerOptions.securityContext as JSON
	}{
		{"privileged sidecar", `{"securityContext":{"privileged":true}}`, "spec.autoscalerOptions.securityContext", `{"allowPrivilegeEscalation":false,"privileged":false}`},
		{"sidecar image outside the allowed prefixes", `{"image":"docker.io/evil:latest"}`, "spec.autoscalerOptions.image", ""},
		{"sidecar CPU above maxCPUPerPod", `{"resources":{"limits":{"cpu":"64"},"requests":{"cpu":"64"}}}`, "maxCPUPerPod", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := strings.Replace(inTreeCluster, "%s", c.opts, 1)
			res := defaults.Expand(defaults.Input{Object: []byte(obj), Namespace: "default", Policy: policy})
			if strings.Contains(errText(res.Errors), c.rejected) {
				return
			}
			if c.enforced != "" && res.Object != nil {
				got, _ := json.Marshal(jsonAt(t, res.Object, "spec", "autoscalerOptions", "securityContext"))
				if string(got) == c.enforced {
					return
				}
			}
			t.Errorf("autoscalerOptions %s admitted (errors %v) as:\n%s", c.opts, res.Errors, res.Object)
		})
	}
}

// Regression: limits.maxCPUPerPod (and maxMemoryPerPod, maxGPUPerPod) summed the
// regular containers only. A pod's effective request is max(largest init
// container, sum of containers), so an init container asking for 64 CPU
// passed a 4-CPU limit, and the scheduler reserved 64 CPU for the pod.
func TestRegressionInitContainersEscapePerPodLimits(t *testing.T) {
	policy := defaults.DefaultPolicy()
	policy.Limits.MaxCPUPerPod = mustQuantity(t, "4")
	obj := `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","namespace":"default"},"spec":{"rayVersion":"2.9.0",
"headGroupSpec":{"template":{"spec":{"initContainers":[{"name":"warm","image":"rayproject/ray:2.9.0","resources":{"requests":{"cpu":"64"},"limits":{"cpu":"64"}}}],
"containers":[{"name":"ray-head","resources":{"requests":{"cpu":"1"},"limits":{"cpu":"1"}}}]}}}}}`
	res := defaults.Expand(defaults.Input{Object: []byte(obj), Namespace: "default", Policy: policy})
	if !strings.Contains(errText(res.Errors), "maxCPUPerPod") {
		t.Errorf("an init container asking for 64 CPU passes limits.maxCPUPerPod 4 (errors %v)", res.Errors)
	}
}
