package defaults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// recordingSource is a TemplateSource over a TemplateSet that records every
// namespace it is asked about, to prove lookups never leave the object's own.
type recordingSource struct {
	set        *defaults.TemplateSet
	namespaces map[string]bool
}

func (r *recordingSource) ComputeTemplate(ctx context.Context, ns, name string) (*defaults.Template, error) {
	r.namespaces[ns] = true
	return r.set.ComputeTemplate(ctx, ns, name)
}

func (r *recordingSource) ConfigMapTemplate(ctx context.Context, ns, name string) (*defaults.Template, error) {
	r.namespaces[ns] = true
	return r.set.ConfigMapTemplate(ctx, ns, name)
}

func (r *recordingSource) ClusterComputeTemplate(ctx context.Context, name string) (*defaults.Template, error) {
	return r.set.ClusterComputeTemplate(ctx, name)
}

func (r *recordingSource) Names(ctx context.Context, ns string, withConfigMaps bool) ([]string, error) {
	r.namespaces[ns] = true
	return r.set.Names(ctx, ns, withConfigMaps)
}

// crossNamespaceSet has a template "shared" (ComputeTemplate and API-server
// ConfigMap) in team-b only, and "big" as a ComputeTemplate in team-b and as
// a ClusterComputeTemplate with other values.
func crossNamespaceSet() *defaults.TemplateSet {
	set := &defaults.TemplateSet{}
	for _, name := range []string{"shared", "big"} {
		set.AddComputeTemplate(&v1alpha1.ComputeTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-b"},
			Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("7"), Memory: resource.MustParse("7Gi")},
		})
	}
	set.AddConfigMap("team-b", "shared-cm", map[string]string{"cpu": "7", "memory": "7"})
	set.AddClusterComputeTemplate(&v1alpha1.ClusterComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("3"), Memory: resource.MustParse("3Gi")},
	})
	return set
}

// TestTemplatesNeverComeFromAnotherNamespace: whatever the reference looks
// like and wherever it sits (cluster annotation, group annotation, policy
// default, RayJob/RayService metadata), a template of another namespace is
// never used and the object's namespace is the only one searched.
func TestTemplatesNeverComeFromAnotherNamespace(t *testing.T) {
	cluster := func(meta, groupAnn string) string {
		return fmt.Sprintf(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":%s,
"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{"metadata":{"annotations":%s}}}}}`, meta, groupAnn)
	}
	cases := []struct {
		name, obj, inputNS, policyTemplate string
		wantCPU                            string // "" means: rejected as not found
	}{
		{"cluster annotation", cluster(`{"name":"c","namespace":"team-a","annotations":{"ray.io/compute-template":"shared"}}`, `{}`), "team-a", "", ""},
		{"group annotation", cluster(`{"name":"c","namespace":"team-a"}`, `{"ray.io/compute-template":"shared"}`), "team-a", "", ""},
		{"configmap template", cluster(`{"name":"c","namespace":"team-a"}`, `{"ray.io/compute-template":"shared-cm"}`), "team-a", "", ""},
		{"policy default template", cluster(`{"name":"c","namespace":"team-a"}`, `{}`), "team-a", "shared", ""},
		{"namespace from the request", cluster(`{"name":"c"}`, `{"ray.io/compute-template":"shared"}`), "team-a", "", ""},
		{"path-like reference", cluster(`{"name":"c","namespace":"team-a"}`, `{"ray.io/compute-template":"team-b/shared"}`), "team-a", "", ""},
		{"dot-dot reference", cluster(`{"name":"c","namespace":"team-a"}`, `{"ray.io/compute-template":"../team-b/shared"}`), "team-a", "", ""},
		{"cluster-scoped wins over another namespace's", cluster(`{"name":"c","namespace":"team-a"}`, `{"ray.io/compute-template":"big"}`), "team-a", "", "3"},
		{"RayJob", `{"kind":"RayJob","metadata":{"name":"j","namespace":"team-a","annotations":{"ray.io/compute-template":"shared"}},"spec":{"rayClusterSpec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}}`, "team-a", "", ""},
		{"RayService", `{"kind":"RayService","metadata":{"name":"s","namespace":"team-a","annotations":{"ray.io/compute-template":"shared"}},"spec":{"rayClusterConfig":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}}`, "team-a", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &recordingSource{set: crossNamespaceSet(), namespaces: map[string]bool{}}
			policy := defaults.DefaultPolicy()
			policy.Defaults.ComputeTemplate = c.policyTemplate
			res := defaults.Expand(defaults.Input{Object: []byte(c.obj), Namespace: c.inputNS, Templates: src, Policy: policy})
			for ns := range src.namespaces {
				if ns != "team-a" {
					t.Errorf("looked up templates in namespace %q", ns)
				}
			}
			if c.wantCPU == "" {
				if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "compute template not found") &&
					!strings.Contains(res.Errors[0].Error(), "must be the name of a compute template") {
					t.Fatalf("errors %v, want one not-found or not-a-name error", res.Errors)
				}
				if msg := res.Errors[0].Error(); strings.Contains(msg, "team-b") && !strings.Contains(msg, "team-b/shared") {
					t.Errorf("the error reveals team-b's templates: %s", msg)
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors %v", res.Errors)
			}
			if !strings.Contains(string(res.Object), fmt.Sprintf(`"cpu":"%s"`, c.wantCPU)) {
				t.Errorf("template values not applied: %s", res.Object)
			}
		})
	}
}

// enforcingPolicy enforces every field the policy can enforce.
func enforcingPolicy(t *testing.T) *defaults.Policy {
	t.Helper()
	p, err := defaults.ParsePolicy([]byte(`
defaults:
  image: "registry.internal/ray:{rayVersion}"
  imagePullPolicy: Always
  imagePullSecrets: [internal-pull]
  podLabels: {tier: standard}
  podAnnotations: {audit: "on"}
  tolerations: [{key: ray, operator: Exists}]
  nodeSelector: {pool: ray}
  priorityClassName: ray-batch
  podSecurityContext: {runAsNonRoot: true}
  containerSecurityContext: {privileged: false, allowPrivilegeEscalation: false}
  headRayStartParams: {dashboard-host: 127.0.0.1}
  workerRayStartParams: {metrics-export-port: "8080"}
enforce: [image, imagePullPolicy, imagePullSecrets, podLabels, podAnnotations, tolerations, nodeSelector,
  priorityClassName, podSecurityContext, containerSecurityContext, headRayStartParams, workerRayStartParams]
limits: {allowedImagePrefixes: ["registry.internal/"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileGroup is a pod template that tries to override every enforced field.
const hostileGroup = `"rayStartParams":{"dashboard-host":"0.0.0.0","metrics-export-port":"1"},
"template":{"metadata":{"labels":{"tier":"gold"},"annotations":{"audit":"off","raypilot.io/expanded":"0000","ray.io/compute-template":""}},
"spec":{"priorityClassName":"system-cluster-critical","securityContext":{"runAsUser":0},"imagePullSecrets":[{"name":"mine"}],
"tolerations":[{"operator":"Exists"}],"nodeSelector":{"pool":"gpu-reserved"},
"initContainers":[{"name":"init","image":"registry.internal/tool","securityContext":{"privileged":true}}],
"containers":[{"name":"ray","image":"registry.internal/evil","imagePullPolicy":"Never","securityContext":{"privileged":true,"allowPrivilegeEscalation":true}},
{"name":"side","image":"registry.internal/side","securityContext":{"privileged":true}}]}}`

// checkEnforced fails t unless every pod template in spec carries the
// policy's enforced values.
func checkEnforced(t *testing.T, out []byte, specPath ...string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	spec := doc
	for _, k := range specPath {
		spec, _ = spec[k].(map[string]any)
	}
	type group struct {
		name string
		head bool
		g    map[string]any
	}
	groups := []group{{"head", true, spec["headGroupSpec"].(map[string]any)}}
	ws, _ := spec["workerGroupSpecs"].([]any)
	for i, w := range ws {
		groups = append(groups, group{fmt.Sprintf("worker %d", i), false, w.(map[string]any)})
	}
	want := func(where string, got any, wantJSON string) {
		t.Helper()
		gotJSON, _ := json.Marshal(got)
		if string(gotJSON) != wantJSON {
			t.Errorf("%s = %s, want the enforced %s", where, gotJSON, wantJSON)
		}
	}
	for _, g := range groups {
		tmpl := g.g["template"].(map[string]any)
		meta := tmpl["metadata"].(map[string]any)
		ps := tmpl["spec"].(map[string]any)
		want(g.name+" label tier", meta["labels"].(map[string]any)["tier"], `"standard"`)
		want(g.name+" annotation audit", meta["annotations"].(map[string]any)["audit"], `"on"`)
		want(g.name+" priorityClassName", ps["priorityClassName"], `"ray-batch"`)
		want(g.name+" securityContext", ps["securityContext"], `{"runAsNonRoot":true}`)
		want(g.name+" imagePullSecrets", ps["imagePullSecrets"], `[{"name":"internal-pull"}]`)
		want(g.name+" tolerations", ps["tolerations"], `[{"key":"ray","operator":"Exists"}]`)
		want(g.name+" nodeSelector pool", ps["nodeSelector"].(map[string]any)["pool"], `"ray"`)
		ray := ps["containers"].([]any)[0].(map[string]any)
		want(g.name+" image", ray["image"], `"registry.internal/ray:2.9.0"`)
		want(g.name+" imagePullPolicy", ray["imagePullPolicy"], `"Always"`)
		for _, key := range []string{"containers", "initContainers"} {
			list, _ := ps[key].([]any)
			for i, c := range list {
				want(fmt.Sprintf("%s %s[%d] securityContext", g.name, key, i), c.(map[string]any)["securityContext"], `{"allowPrivilegeEscalation":false,"privileged":false}`)
			}
		}
		params := g.g["rayStartParams"].(map[string]any)
		if g.head {
			want(g.name+" dashboard-host", params["dashboard-host"], `"127.0.0.1"`)
		} else {
			want(g.name+" metrics-export-port", params["metrics-export-port"], `"8080"`)
		}
	}
}

// TestEnforcedFieldsCannotBeBypassed: enforced policy fields win against
// the user's values on every pod template, whatever the object kind, the
// annotations the user sets (the audit hash, an empty template reference,
// the autoscaling opt-out), and on UPDATE, including an UPDATE of an object
// stored before the policy tightened (the lenient path).
func TestEnforcedFieldsCannotBeBypassed(t *testing.T) {
	policy := enforcingPolicy(t)
	spec := `{"rayVersion":"2.9.0","headGroupSpec":{` + hostileGroup + `},"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":2,` + hostileGroup + `}]}`
	meta := `{"name":"c","namespace":"default","annotations":{"raypilot.io/autoscaling":"disabled","raypilot.io/expanded":"x"}}`
	objects := []struct {
		kind     string
		obj      string
		specPath []string
	}{
		{"RayCluster", `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":` + meta + `,"spec":` + spec + `}`, []string{"spec"}},
		{"RayJob", `{"apiVersion":"ray.io/v1","kind":"RayJob","metadata":` + meta + `,"spec":{"entrypoint":"x","rayClusterSpec":` + spec + `}}`, []string{"spec", "rayClusterSpec"}},
		{"RayService", `{"apiVersion":"ray.io/v1","kind":"RayService","metadata":` + meta + `,"spec":{"rayClusterConfig":` + spec + `}}`, []string{"spec", "rayClusterConfig"}},
	}
	for _, o := range objects {
		t.Run(o.kind+"/create", func(t *testing.T) {
			res := defaults.Expand(defaults.Input{Object: []byte(o.obj), Namespace: "default", Policy: policy})
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			checkEnforced(t, res.Object, o.specPath...)
		})
		t.Run(o.kind+"/update", func(t *testing.T) {
			stored := defaults.Expand(defaults.Input{Object: []byte(o.obj), Namespace: "default", Policy: policy})
			if len(stored.Errors) > 0 {
				t.Fatalf("errors: %v", stored.Errors)
			}
			// The user edits the stored object back to the hostile values.
			res := defaults.Expand(defaults.Input{Object: []byte(o.obj), OldObject: stored.Object, Operation: defaults.Update, Namespace: "default", Policy: policy})
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			checkEnforced(t, res.Object, o.specPath...)
		})
		t.Run(o.kind+"/update-of-an-object-invalid-since", func(t *testing.T) {
			// Stored before its template was deleted: the UPDATE takes the
			// lenient path, which must still enforce.
			withRef := strings.Replace(o.obj, `"raypilot.io/expanded":"x"`, `"ray.io/compute-template":"deleted-since"`, 1)
			res := defaults.Expand(defaults.Input{Object: []byte(withRef), OldObject: []byte(withRef), Operation: defaults.Update, Namespace: "default", Policy: policy})
			if len(res.Errors) > 0 || len(res.Warnings) == 0 {
				t.Fatalf("errors %v, warnings %v: want the stored problem as a warning", res.Errors, res.Warnings)
			}
			checkEnforced(t, res.Object, o.specPath...)
		})
	}
}

// TestUpdateCannotIntroduceViolations: an UPDATE is only lenient about
// problems the stored object already had; a new violation of the same kind
// at another place, or a changed value at the same place, is an error.
func TestUpdateCannotIntroduceViolations(t *testing.T) {
	policy := enforcingPolicy(t)
	stored := `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","namespace":"default"},"spec":{"rayVersion":"2.9.0",
"headGroupSpec":{"template":{"spec":{"containers":[{"name":"ray"},{"name":"side","image":"docker.io/old"}]}}},
"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":2,"template":{}}]}}`
	cases := []struct{ name, from, to, want string }{
		{"same image elsewhere", `"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":2,"template":{}}]`,
			`"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":2,"template":{"spec":{"containers":[{"name":"ray"},{"name":"side","image":"docker.io/old"}]}}}]`,
			`spec.workerGroupSpecs[0].template.spec.containers[1].image: Invalid value: "docker.io/old"`},
		{"another image at the same place", `"docker.io/old"`, `"docker.io/new"`, `spec.headGroupSpec.template.spec.containers[1].image: Invalid value: "docker.io/new"`},
		{"replicas above max", `"maxReplicas":2,`, `"maxReplicas":2,"replicas":3,`, `spec.workerGroupSpecs[0].replicas: Invalid value: 3: must be <= maxReplicas (2)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			updated := strings.Replace(stored, c.from, c.to, 1)
			if updated == stored {
				t.Fatal("case changes nothing")
			}
			res := defaults.Expand(defaults.Input{Object: []byte(updated), OldObject: []byte(stored), Operation: defaults.Update, Namespace: "default", Policy: policy})
			if len(res.Errors) == 0 || !strings.Contains(errText(res.Errors), c.want) {
				t.Fatalf("errors %v, want %q", res.Errors, c.want)
			}
		})
	}
}
