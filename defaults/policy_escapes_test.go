package defaults_test

// Regression tests for ways around the cluster-wide policy found by an
// adversarial pass over the engine; each input was admitted before its fix.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
)

func parsePolicy(t *testing.T, doc string) *defaults.Policy {
	t.Helper()
	p, err := defaults.ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func expandWith(t *testing.T, p *defaults.Policy, set *defaults.TemplateSet, object string) defaults.Result {
	t.Helper()
	in := defaults.Input{Object: yamlJSON(t, object), Namespace: "default", Policy: p}
	if set != nil {
		in.Templates = set
	}
	return defaults.Expand(in)
}

// rayCluster is a RayCluster document with metadata meta, rayVersion 2.9.0
// and the rest of its spec (YAML lines indented by two spaces).
func rayCluster(meta, spec string) string {
	return "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: " + meta + "\nspec:\n  rayVersion: \"2.9.0\"\n" + spec
}

func compactJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Enforced tolerations are the final list: a compute template's own
// tolerations (anyone who may create one could add {operator: Exists})
// must not widen them.
func TestEnforcedTolerationsAreNotWidenedByATemplate(t *testing.T) {
	p := parsePolicy(t, `
defaults:
  tolerations: [{key: ray, operator: Equal, value: "true", effect: NoSchedule}]
enforce: [tolerations]
`)
	set := &defaults.TemplateSet{}
	set.AddConfigMap("default", "wide", map[string]string{"cpu": "1", "memory": "1", "tolerations": `[{"operator":"Exists"}]`})
	res := expandWith(t, p, set, rayCluster(`{name: c, annotations: {ray.io/compute-template: wide}}`, `
  headGroupSpec: {template: {spec: {tolerations: [{operator: Exists}]}}}
`))
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	got := compactJSON(t, jsonAt(t, res.Object, "spec", "headGroupSpec", "template", "spec", "tolerations"))
	if want := `[{"effect":"NoSchedule","key":"ray","operator":"Equal","value":"true"}]`; got != want {
		t.Errorf("tolerations = %s, want exactly the enforced %s", got, want)
	}
}

// KubeRay merges a group's labels over its pod template's: an enforced pod
// label must hold there too.
func TestEnforcedPodLabelsHoldOverGroupLabels(t *testing.T) {
	p := parsePolicy(t, `
defaults:
  podLabels: {team: platform}
enforce: [podLabels]
`)
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {labels: {team: attacker, zone: a}, template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 1, labels: {team: attacker}, template: {}}
`))
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	for _, path := range [][]any{{"spec", "headGroupSpec", "labels"}, {"spec", "workerGroupSpecs", 0, "labels"}} {
		labels := jsonAt(t, res.Object, path...).(map[string]any)
		if labels["team"] != "platform" {
			t.Errorf("%v: team = %v, want the enforced platform", path, labels["team"])
		}
	}
	if zone := jsonAt(t, res.Object, "spec", "headGroupSpec", "labels").(map[string]any)["zone"]; zone != "a" {
		t.Errorf("a group label the policy does not name was changed: zone = %v", zone)
	}
}

// An enforced pod security context holds for the effective value of every
// container, init container and the autoscaler sidecar: a container's own
// runAsUser, runAsNonRoot or seccompProfile would win in Kubernetes.
func TestEnforcedPodSecurityContextHoldsInContainers(t *testing.T) {
	p := parsePolicy(t, `
defaults:
  podSecurityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
enforce: [podSecurityContext]
`)
	escape := `{runAsUser: 0, runAsNonRoot: false, seccompProfile: {type: Unconfined}, readOnlyRootFilesystem: true}`
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  enableInTreeAutoscaling: true
  autoscalerOptions: {securityContext: `+escape+`}
  headGroupSpec:
    template:
      spec:
        initContainers: [{name: init, image: rayproject/ray:2.9.0, securityContext: `+escape+`}]
        containers:
        - {name: ray-head, securityContext: `+escape+`}
        - {name: sidecar, image: rayproject/ray:2.9.0, securityContext: `+escape+`}
`))
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	want := `{"readOnlyRootFilesystem":true,"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}}`
	for _, path := range [][]any{
		{"spec", "headGroupSpec", "template", "spec", "containers", 0, "securityContext"},
		{"spec", "headGroupSpec", "template", "spec", "containers", 1, "securityContext"},
		{"spec", "headGroupSpec", "template", "spec", "initContainers", 0, "securityContext"},
		{"spec", "autoscalerOptions", "securityContext"},
	} {
		if got := compactJSON(t, jsonAt(t, res.Object, path...)); got != want {
			t.Errorf("%v = %s, want %s (the container's own non-pod fields kept)", path, got, want)
		}
	}
}

// Per-pod limits count what the pod really asks for.
func TestPerPodLimitsCountEverything(t *testing.T) {
	p := parsePolicy(t, `
limits: {maxCPUPerPod: "4", maxMemoryPerPod: 8Gi, maxGPUPerPod: 1}
`)
	cases := []struct{ name, head, want string }{
		{"pod-level resources", `{spec: {resources: {limits: {cpu: "64"}}, containers: [{name: ray-head, resources: {limits: {cpu: "1"}}}]}}`, "maxCPUPerPod"},
		{"huge pages are memory", `{spec: {containers: [{name: ray-head, resources: {limits: {memory: 4Gi, hugepages-1Gi: 16Gi}}}]}}`, "maxMemoryPerPod"},
		{"MIG profiles are GPUs", `{spec: {containers: [{name: ray-head, resources: {limits: {nvidia.com/mig-1g.5gb: "7"}}}]}}`, "maxGPUPerPod"},
		{"shared GPUs are GPUs", `{spec: {containers: [{name: ray-head, resources: {limits: {nvidia.com/gpu.shared: "4"}}}]}}`, "maxGPUPerPod"},
		{"Intel GPUs are GPUs", `{spec: {containers: [{name: ray-head, resources: {limits: {gpu.intel.com/i915: "2"}}}]}}`, "maxGPUPerPod"},
		{"DRA claims cannot be counted", `{spec: {resourceClaims: [{name: gpu, resourceClaimTemplateName: a100}], containers: [{name: ray-head}]}}`, "spec.headGroupSpec.template.spec.resourceClaims: Forbidden"},
		{"a negative sidecar does not offset a big container", `{spec: {containers: [{name: ray-head, resources: {limits: {cpu: "8"}}}, {name: s, image: rayproject/ray:2.9.0, resources: {limits: {cpu: "-6"}}}]}}`, "must be greater than or equal to 0"},
		{"nodeName bypasses the scheduler", `{spec: {nodeName: gpu-node-1, containers: [{name: ray-head}]}}`, "spec.headGroupSpec.template.spec.nodeName: Forbidden"},
		{"GPU count wraps int64", `{spec: {containers: [{name: ray-head, resources: {limits: {nvidia.com/gpu: "9223372036854775807"}}}, {name: s, image: rayproject/ray:2.9.0, resources: {limits: {nvidia.com/gpu: "9223372036854775807"}}}]}}`, "maxGPUPerPod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {template: `+c.head+`}
`))
			if !strings.Contains(errText(res.Errors), c.want) {
				t.Errorf("admitted, or refused for another reason (want %q): %v", c.want, res.Errors)
			}
		})
	}

	// The policy names more GPU resources.
	p.Limits.GPUResourceNames = []string{"example.com/accelerator-*"}
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {template: {spec: {containers: [{name: ray-head, resources: {limits: {example.com/accelerator-x: "2"}}}]}}}
`))
	if !strings.Contains(errText(res.Errors), "maxGPUPerPod") {
		t.Errorf("limits.gpuResourceNames not counted: %v", res.Errors)
	}
}

// raypilot.io/autoscaling: disabled with enableInTreeAutoscaling: true
// still gets KubeRay's default sidecar (500m / 512Mi) in the head pod.
func TestDisabledClusterCountsKubeRaysDefaultSidecar(t *testing.T) {
	p := parsePolicy(t, `limits: {maxCPUPerPod: "2"}`)
	res := expandWith(t, p, nil, rayCluster(`{name: c, annotations: {raypilot.io/autoscaling: disabled}}`, `
  enableInTreeAutoscaling: true
  headGroupSpec: {template: {spec: {containers: [{name: ray-head, resources: {limits: {cpu: "2"}}}]}}}
`))
	if !strings.Contains(errText(res.Errors), "maxCPUPerPod") {
		t.Errorf("head 2 CPU + KubeRay's 500m sidecar passes a 2 CPU limit: %v", res.Errors)
	}
}

// Three groups at the int32 maximum for min, max and numOfHosts must not
// wrap the worker sum below limits.maxWorkersPerCluster.
func TestWorkerCapDoesNotOverflow(t *testing.T) {
	p := parsePolicy(t, `limits: {maxWorkersPerCluster: 20}`)
	g := `{groupName: %s, minReplicas: 2147483647, maxReplicas: 2147483647, numOfHosts: 2147483647, template: {}}`
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {template: {}}
  workerGroupSpecs: [`+strings.Replace(g, "%s", "a", 1)+`, `+strings.Replace(g, "%s", "b", 1)+`, `+strings.Replace(g, "%s", "c", 1)+`]
`))
	if !strings.Contains(errText(res.Errors), "maxWorkersPerCluster") {
		t.Errorf("the worker cap overflowed: %v", res.Errors)
	}
}

// An enforced rayStartParams value is checked as written: KubeRay refuses
// rayStartParams labels, so a policy that enforces them gets the refusal
// at admission, not from KubeRay later.
func TestEnforcedRayStartParamsAreValidated(t *testing.T) {
	p := parsePolicy(t, `
defaults:
  headRayStartParams: {labels: "a=b"}
enforce: [headRayStartParams]
`)
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {template: {}}
`))
	if !strings.Contains(errText(res.Errors), "rayStartParams[labels]") {
		t.Errorf("enforced rayStartParams admitted without KubeRay's check: %v", res.Errors)
	}
}

// An image prefix without a trailing "/" admits other registries whose
// names start the same way; the policy says so at load.
func TestImagePrefixWithoutSlashIsWarned(t *testing.T) {
	p := parsePolicy(t, `limits: {allowedImagePrefixes: ["registry.internal", "rayproject/", "rayproject/ray:"]}`)
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], `limits.allowedImagePrefixes[0]: "registry.internal"`) {
		t.Errorf("warnings = %q", w)
	}
}

// limits.podSecurity holds every Ray pod to a Kubernetes Pod Security
// Standard, with the API server's own checks: host namespaces, privileged
// containers and hostPath volumes under baseline; the autoscaler sidecar and
// the RayJob submitter too.
func TestPodSecurityLevel(t *testing.T) {
	baseline := parsePolicy(t, `limits: {podSecurity: baseline}`)
	cases := []struct{ name, object, want string }{
		{"hostPID and hostNetwork", `
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {spec: {hostPID: true, hostNetwork: true, containers: [{name: ray-head}]}}}
`, `spec.headGroupSpec.template.spec: Forbidden: violates PodSecurity "baseline:latest" (policy limits.podSecurity): host namespaces`},
		{"hostPath / in a worker", `
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 1, template: {spec: {volumes: [{name: root, hostPath: {path: /}}], containers: [{name: w}]}}}
`, `spec.workerGroupSpecs[0].template.spec: Forbidden: violates PodSecurity "baseline:latest" (policy limits.podSecurity): hostPath volumes`},
		{"privileged autoscaler sidecar", `
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c, annotations: {raypilot.io/autoscaling: disabled}}
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: true
  autoscalerOptions: {securityContext: {privileged: true}}
  headGroupSpec: {template: {}}
`, `spec.autoscalerOptions: Forbidden: violates PodSecurity "baseline:latest" (policy limits.podSecurity): privileged`},
		{"privileged submitter", `
apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  entrypoint: python a.py
  clusterSelector: {ray.io/cluster: existing}
  submitterPodTemplate: {spec: {hostIPC: true, containers: [{name: s, image: rayproject/ray:2.9.0, securityContext: {privileged: true}}]}}
`, `spec.submitterPodTemplate.spec: Forbidden: violates PodSecurity "baseline:latest"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := expandWith(t, baseline, nil, c.object)
			if !strings.Contains(errText(res.Errors), c.want) {
				t.Errorf("want %q, got %v", c.want, res.Errors)
			}
		})
	}
	// A compact cluster passes baseline as expanded.
	res := expandWith(t, baseline, nil, "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec: {rayVersion: \"2.9.0\", headGroupSpec: {template: {}}}\n")
	if len(res.Errors) > 0 {
		t.Errorf("compact cluster under baseline: %v", res.Errors)
	}
	if _, err := defaults.ParsePolicy([]byte(`limits: {podSecurity: strict}`)); err == nil || !strings.Contains(err.Error(), "limits.podSecurity: Unsupported value") {
		t.Errorf("bad level accepted: %v", err)
	}
}

// The service account and its token are enforceable: a user's own
// serviceAccountName (or the deprecated serviceAccount alias) and
// automountServiceAccountToken give way to the policy's.
func TestEnforcedServiceAccount(t *testing.T) {
	p := parsePolicy(t, `
defaults:
  serviceAccountName: ray-workloads
  automountServiceAccountToken: false
enforce: [serviceAccountName, automountServiceAccountToken]
`)
	res := expandWith(t, p, nil, rayCluster(`{name: c}`, `
  headGroupSpec: {template: {spec: {serviceAccount: cluster-admin-sa, automountServiceAccountToken: true}}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 1, template: {spec: {serviceAccountName: cluster-admin-sa}}}
`))
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	for _, path := range [][]any{{"spec", "headGroupSpec", "template", "spec"}, {"spec", "workerGroupSpecs", 0, "template", "spec"}} {
		spec := jsonAt(t, res.Object, path...).(map[string]any)
		if spec["serviceAccountName"] != "ray-workloads" || spec["automountServiceAccountToken"] != false || spec["serviceAccount"] != nil {
			t.Errorf("%v: serviceAccountName %v, serviceAccount %v, automountServiceAccountToken %v", path, spec["serviceAccountName"], spec["serviceAccount"], spec["automountServiceAccountToken"])
		}
	}
}

// The chart's values.schema.json accepts exactly the fields the engine can
// enforce, each with a default field of the same name.
func TestChartSchemaNamesEveryEnforceableField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "charts", "raypilot", "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Policy struct {
				Properties struct {
					Defaults struct {
						Properties map[string]any `json:"properties"`
					} `json:"defaults"`
					Enforce struct {
						Items struct {
							Enum []string `json:"enum"`
						} `json:"items"`
					} `json:"enforce"`
				} `json:"properties"`
			} `json:"policy"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	pol := schema.Properties.Policy.Properties
	if got := pol.Enforce.Items.Enum; !slices.Equal(got, defaults.EnforceableFields()) {
		t.Errorf("chart enforce enum %v, engine %v", got, defaults.EnforceableFields())
	}
	for _, name := range defaults.EnforceableFields() {
		if _, ok := pol.Defaults.Properties[name]; !ok {
			t.Errorf("chart policy.defaults has no %s", name)
		}
	}
}

// What Kubernetes refuses when KubeRay creates the pods is refused at
// admission: `..` in a volume item path, Bidirectional propagation in a
// container that is not privileged.
func TestRefusedLaterByKubernetesIsRefusedNow(t *testing.T) {
	cases := []struct{ name, annotations, head, want string }{
		{"dot-dot item path", `{raypilot.io/volumes: '[{name: c, mountPath: /c, volumeType: CONFIGMAP, source: cm, items: {a: ../../etc/passwd}}]'}`, `{}`,
			`metadata.annotations[raypilot.io/volumes][0].items[a]: Invalid value: "../../etc/passwd": must not contain '..'`},
		{"bidirectional without privileged", `{raypilot.io/volumes: '[{name: h, mountPath: /h, volumeType: HOST_PATH, source: /mnt, mountPropagationMode: BIDIRECTIONAL}]'}`, `{}`,
			`spec.headGroupSpec.template.spec.containers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := expandWith(t, defaults.DefaultPolicy(), nil, rayCluster(`{name: c, annotations: `+c.annotations+`}`, `
  headGroupSpec: {template: `+c.head+`}
`))
			if !strings.Contains(errText(res.Errors), c.want) {
				t.Errorf("want %q, got %v", c.want, res.Errors)
			}
		})
	}
	// Privileged containers may use it.
	res := expandWith(t, defaults.DefaultPolicy(), nil, rayCluster(`{name: c, annotations: {raypilot.io/volumes: '[{name: h, mountPath: /h, volumeType: HOST_PATH, source: /mnt, mountPropagationMode: BIDIRECTIONAL}]'}}`, `
  headGroupSpec: {template: {spec: {containers: [{name: ray-head, securityContext: {privileged: true}}]}}}
`))
	if len(res.Errors) > 0 {
		t.Errorf("privileged container with Bidirectional propagation refused: %v", res.Errors)
	}
}
