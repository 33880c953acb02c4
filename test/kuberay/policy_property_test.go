package kuberay

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
)

// The policy holds for every pod KubeRay v1.5.0 builds from an admitted
// object: for random policies and random RayCluster, RayJob and RayService
// objects (compact, and carrying the known ways around a policy: template
// tolerations, group labels, container security contexts, pod-level
// resources, privileged sidecars and submitters, foreign images), every
// head (with its in-tree autoscaler), worker and submitter pod KubeRay's
// own builders make satisfies every enforced field and limit.
func TestPolicyHoldsForEveryPodKubeRayBuilds(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	templates := &defaults.TemplateSet{}
	templates.AddConfigMap("default", "wide", map[string]string{"cpu": "2", "memory": "4", "tolerations": `[{"operator":"Exists"}]`})
	admitted, pods := 0, 0
	for i := range 400 {
		policyDoc := randomPolicy(rng)
		policy, err := defaults.ParsePolicy([]byte(policyDoc))
		if err != nil {
			t.Fatalf("generated policy %d does not parse: %v\n%s", i, err, policyDoc)
		}
		object := randomObject(rng)
		res := defaults.Expand(defaults.Input{Object: object, Namespace: "default", Policy: policy, Templates: templates})
		if len(res.Errors) > 0 {
			continue
		}
		problems, built := judgeAndBuild(res.Object)
		if len(problems) > 0 {
			continue // what KubeRay refuses is judged by the other tests of this tier
		}
		admitted++
		for _, b := range built {
			pods++
			for _, v := range policyViolations(policy, b.pod) {
				t.Errorf("case %d: %s: %s\npolicy:\n%s\nobject: %s", i, b.what, v, policyDoc, object)
			}
		}
	}
	// The generator must exercise the property, not only produce refusals.
	if admitted < 100 || pods < 200 {
		t.Fatalf("only %d objects admitted and %d pods built out of 400 cases", admitted, pods)
	}
	t.Logf("%d objects admitted, %d pods checked", admitted, pods)
}

// policyViolations lists how pod breaks policy.
func policyViolations(p *defaults.Policy, pod *corev1.Pod) []string {
	var out []string
	d, l := p.Defaults, p.Limits
	all := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for _, name := range p.Enforce {
		switch name {
		case "tolerations":
			if !reflect.DeepEqual(pod.Spec.Tolerations, d.Tolerations) {
				out = append(out, fmt.Sprintf("tolerations %v, enforced %v", pod.Spec.Tolerations, d.Tolerations))
			}
		case "nodeSelector":
			for k, v := range d.NodeSelector {
				if pod.Spec.NodeSelector[k] != v {
					out = append(out, fmt.Sprintf("nodeSelector %s=%q, enforced %q", k, pod.Spec.NodeSelector[k], v))
				}
			}
		case "podLabels":
			for k, v := range d.PodLabels {
				if pod.Labels[k] != v {
					out = append(out, fmt.Sprintf("label %s=%q, enforced %q", k, pod.Labels[k], v))
				}
			}
		case "priorityClassName":
			if pod.Spec.PriorityClassName != d.PriorityClassName {
				out = append(out, fmt.Sprintf("priorityClassName %q, enforced %q", pod.Spec.PriorityClassName, d.PriorityClassName))
			}
		case "podSecurityContext":
			for _, c := range all {
				if user := effectiveRunAsUser(pod, c); d.PodSecurityContext.RunAsUser != nil && !p.Enforces("containerSecurityContext") && (user == nil || *user != *d.PodSecurityContext.RunAsUser) {
					out = append(out, fmt.Sprintf("container %s runs as user %v, enforced %d", c.Name, deref(user), *d.PodSecurityContext.RunAsUser))
				}
				if nonRoot := effectiveRunAsNonRoot(pod, c); d.PodSecurityContext.RunAsNonRoot != nil && !p.Enforces("containerSecurityContext") && (nonRoot == nil || *nonRoot != *d.PodSecurityContext.RunAsNonRoot) {
					out = append(out, fmt.Sprintf("container %s runAsNonRoot %v, enforced %v", c.Name, deref(nonRoot), *d.PodSecurityContext.RunAsNonRoot))
				}
			}
		case "serviceAccountName":
			if pod.Spec.ServiceAccountName != d.ServiceAccountName {
				out = append(out, fmt.Sprintf("serviceAccountName %q, enforced %q", pod.Spec.ServiceAccountName, d.ServiceAccountName))
			}
		case "automountServiceAccountToken":
			if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken != *d.AutomountServiceAccountToken {
				out = append(out, fmt.Sprintf("automountServiceAccountToken %v, enforced %v", deref(pod.Spec.AutomountServiceAccountToken), *d.AutomountServiceAccountToken))
			}
		case "containerSecurityContext":
			for _, c := range all {
				if c.SecurityContext == nil || !reflect.DeepEqual(*c.SecurityContext, *d.ContainerSecurityContext) {
					out = append(out, fmt.Sprintf("container %s securityContext %+v, enforced %+v", c.Name, c.SecurityContext, *d.ContainerSecurityContext))
				}
			}
		}
	}
	if len(l.AllowedImagePrefixes) > 0 {
		for _, c := range all {
			if !slices.ContainsFunc(l.AllowedImagePrefixes, func(pre string) bool { return strings.HasPrefix(c.Image, pre) }) {
				out = append(out, fmt.Sprintf("container %s image %q outside %v", c.Name, c.Image, l.AllowedImagePrefixes))
			}
		}
	}
	cpu, mem, gpu := podRequests(pod, l.GPUResourceNames)
	if l.MaxCPUPerPod != nil && cpu.Cmp(*l.MaxCPUPerPod) > 0 {
		out = append(out, fmt.Sprintf("pod asks for %s CPU, limit %s", cpu.String(), l.MaxCPUPerPod.String()))
	}
	if l.MaxMemoryPerPod != nil && mem.Cmp(*l.MaxMemoryPerPod) > 0 {
		out = append(out, fmt.Sprintf("pod asks for %s memory, limit %s", mem.String(), l.MaxMemoryPerPod.String()))
	}
	if l.MaxGPUPerPod != nil && gpu > *l.MaxGPUPerPod {
		out = append(out, fmt.Sprintf("pod asks for %d GPUs, limit %d", gpu, *l.MaxGPUPerPod))
	}
	if l.PodSecurity != "" {
		ev, _ := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
		lv := psaapi.LevelVersion{Level: psaapi.Level(l.PodSecurity), Version: psaapi.LatestVersion()}
		if res := psapolicy.AggregateCheckResults(ev.EvaluatePod(lv, &metav1.ObjectMeta{}, &pod.Spec)); !res.Allowed {
			out = append(out, fmt.Sprintf("violates PodSecurity %s: %s (%s)", l.PodSecurity, res.ForbiddenReason(), res.ForbiddenDetail()))
		}
	}
	if pod.Spec.NodeName != "" {
		out = append(out, "nodeName "+pod.Spec.NodeName+" bypasses the scheduler")
	}
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func effectiveRunAsUser(pod *corev1.Pod, c corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsUser
	}
	return nil
}

func effectiveRunAsNonRoot(pod *corev1.Pod, c corev1.Container) *bool {
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		return c.SecurityContext.RunAsNonRoot
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsNonRoot
	}
	return nil
}

// podRequests is what the scheduler reserves for pod: per resource, the
// larger of the containers' sum and the largest init container, limits
// counted where set (they bound the request), huge pages as memory, and
// pod-level resources where larger; GPUs as the policy counts them.
func podRequests(pod *corev1.Pod, gpuNames []string) (cpu, mem resource.Quantity, gpu int64) {
	amount := func(r corev1.ResourceRequirements, name corev1.ResourceName) resource.Quantity {
		if q, ok := r.Limits[name]; ok {
			return q
		}
		return r.Requests[name]
	}
	usage := func(r corev1.ResourceRequirements) (resource.Quantity, resource.Quantity, int64) {
		c, m := amount(r, corev1.ResourceCPU), amount(r, corev1.ResourceMemory)
		var g int64
		for name := range mergeNames(r) {
			switch {
			case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
				m.Add(amount(r, name))
			case defaults.IsGPUResource(string(name), gpuNames):
				q := amount(r, name)
				g += q.Value()
			}
		}
		return c, m, g
	}
	for _, c := range pod.Spec.Containers {
		cc, cm, cg := usage(c.Resources)
		cpu.Add(cc)
		mem.Add(cm)
		gpu += cg
	}
	for _, c := range pod.Spec.InitContainers {
		cc, cm, cg := usage(c.Resources)
		if cc.Cmp(cpu) > 0 {
			cpu = cc
		}
		if cm.Cmp(mem) > 0 {
			mem = cm
		}
		gpu = max(gpu, cg)
	}
	if pod.Spec.Resources != nil {
		pc, pm, pg := usage(*pod.Spec.Resources)
		if pc.Cmp(cpu) > 0 {
			cpu = pc
		}
		if pm.Cmp(mem) > 0 {
			mem = pm
		}
		gpu = max(gpu, pg)
	}
	return cpu, mem, gpu
}

func mergeNames(r corev1.ResourceRequirements) map[corev1.ResourceName]bool {
	out := map[corev1.ResourceName]bool{}
	for n := range r.Limits {
		out[n] = true
	}
	for n := range r.Requests {
		out[n] = true
	}
	return out
}

// randomPolicy draws a policy: a random subset of enforced fields with
// their defaults, and random limits.
func randomPolicy(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("defaults:\n")
	var enforce []string
	pick := func(name, def string) {
		if rng.IntN(2) == 0 {
			return
		}
		b.WriteString("  " + name + ": " + def + "\n")
		if rng.IntN(3) > 0 {
			enforce = append(enforce, name)
		}
	}
	pick("tolerations", `[{key: ray, operator: Equal, value: "true", effect: NoSchedule}]`)
	pick("nodeSelector", `{pool: ray}`)
	pick("podLabels", `{team: platform}`)
	pick("priorityClassName", `ray`)
	pick("podSecurityContext", `{runAsNonRoot: true, runAsUser: 1000}`)
	pick("containerSecurityContext", `{allowPrivilegeEscalation: false, privileged: false}`)
	pick("serviceAccountName", `ray-workloads`)
	pick("automountServiceAccountToken", `false`)
	if len(enforce) > 0 {
		b.WriteString("enforce: [" + strings.Join(enforce, ", ") + "]\n")
	}
	b.WriteString("limits:\n")
	limits := []string{
		`maxCPUPerPod: "4"`, `maxMemoryPerPod: 8Gi`, `maxGPUPerPod: 1`,
		`allowedImagePrefixes: ["rayproject/"]`, `podSecurity: baseline`,
	}
	any := false
	for _, l := range limits {
		if rng.IntN(2) == 0 {
			b.WriteString("  " + l + "\n")
			any = true
		}
	}
	if !any {
		b.WriteString("  {}\n")
	}
	return b.String()
}

// attacks are fragments the generator puts into objects: each is one known
// way around a policy, or plain valid content.
var (
	headTemplates = []string{
		`{}`,
		`{spec: {tolerations: [{operator: Exists}]}}`,
		`{spec: {securityContext: {runAsUser: 0}, containers: [{name: ray-head, securityContext: {runAsUser: 0, runAsNonRoot: false, privileged: true}}]}}`,
		`{spec: {containers: [{name: ray-head, resources: {limits: {cpu: "2", memory: 2Gi}}}, {name: shipper, image: docker.io/evil/miner:1, securityContext: {privileged: true}}]}}`,
		`{spec: {resources: {limits: {cpu: "64"}}, containers: [{name: ray-head, resources: {limits: {cpu: "1"}}}]}}`,
		`{spec: {initContainers: [{name: warm, image: rayproject/ray:2.9.0, resources: {limits: {cpu: "64"}}}]}}`,
		`{metadata: {labels: {team: attacker}}, spec: {priorityClassName: system-node-critical, nodeSelector: {pool: gpu}}}`,
		`{spec: {hostNetwork: true, hostPID: true}}`,
		`{spec: {serviceAccount: cluster-admin-sa, automountServiceAccountToken: true}}`,
		`{spec: {containers: [{name: ray-head, resources: {limits: {nvidia.com/mig-1g.5gb: "4", hugepages-1Gi: 16Gi}}}]}}`,
	}
	groupExtras = []string{``, `labels: {team: attacker}, `}
	autoscalers = []string{
		``,
		`enableInTreeAutoscaling: true, `,
		`enableInTreeAutoscaling: true, autoscalerOptions: {image: docker.io/evil:1, securityContext: {privileged: true, runAsUser: 0}, resources: {limits: {cpu: "8"}}}, `,
	}
	submitters = []string{
		``,
		`submitterPodTemplate: {spec: {hostPID: true, tolerations: [{operator: Exists}], containers: [{name: s, image: docker.io/evil:1, securityContext: {privileged: true, runAsUser: 0}, resources: {limits: {cpu: "64"}}}]}}, `,
		`submitterPodTemplate: {spec: {containers: [{name: s, image: rayproject/ray:2.9.0}]}}, `,
	}
	annotations = []string{`{}`, `{ray.io/compute-template: wide}`, `{raypilot.io/autoscaling: disabled}`}
)

// randomObject draws a RayCluster, RayJob or RayService from the fragments.
func randomObject(rng *rand.Rand) []byte {
	one := func(list []string) string { return list[rng.IntN(len(list))] }
	cluster := fmt.Sprintf(`{rayVersion: "2.9.0", %sheadGroupSpec: {%stemplate: %s}, workerGroupSpecs: [{groupName: wg, minReplicas: 1, maxReplicas: 2, %stemplate: %s}]}`,
		one(autoscalers), one(groupExtras), one(headTemplates), one(groupExtras), strings.ReplaceAll(one(headTemplates), "ray-head", "ray-worker"))
	var doc string
	switch rng.IntN(3) {
	case 0:
		doc = fmt.Sprintf(`{apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: c, namespace: default, annotations: %s}, spec: %s}`, one(annotations), cluster)
	case 1:
		doc = fmt.Sprintf(`{apiVersion: ray.io/v1, kind: RayJob, metadata: {name: j, namespace: default, annotations: %s}, spec: {entrypoint: python a.py, %srayClusterSpec: %s}}`, one(annotations), one(submitters), cluster)
	default:
		doc = fmt.Sprintf(`{apiVersion: ray.io/v1, kind: RayService, metadata: {name: s, namespace: default, annotations: %s}, spec: {serveConfigV2: "applications: []", rayClusterConfig: %s}}`, one(annotations), cluster)
	}
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		panic(fmt.Sprintf("generator wrote bad YAML: %v\n%s", err, doc))
	}
	return js
}
