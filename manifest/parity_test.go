package manifest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/crdschema"
	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/webhook"
)

// online is the verdict on creating obj through a kube-apiserver with the
// KubeRay CRDs and raypilot's webhooks, built from the pieces the webhook
// tests use: the CRD decodes the body (internal/crdschema: pruning and
// defaults), the mutating webhook's patch is applied, the result is
// decoded and validated by the CRD schema and as ObjectMeta, then the
// validating webhook answers.
func online(t *testing.T, d manifest.Document, set defaults.TemplateSource, policy *defaults.Policy) (bool, string) {
	t.Helper()
	v, err := crdschema.For(d.Kind)
	if err != nil {
		t.Fatal(err)
	}
	ns := d.Namespace
	if ns == "" {
		ns = "default"
	}
	admitted, err := v.Decode(d.JSON)
	if err != nil {
		t.Fatal(err)
	}
	hc := webhook.Config{Templates: set, Policy: func() *defaults.Policy { return policy }, Log: zap.NewNop()}
	handle := func(h admission.Handler, obj []byte) admission.Response {
		return h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: "1", Operation: admissionv1.Create, Namespace: ns, Name: d.Name,
			Kind:   metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: d.Kind},
			Object: runtime.RawExtension{Raw: obj},
		}})
	}
	resp := handle(&webhook.MutatingHandler{Config: hc}, admitted)
	if !resp.Allowed {
		return false, "mutating webhook: " + resp.Result.Message
	}
	patched := admitted
	if len(resp.Patch) > 0 {
		patch, err := jsonpatch.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatal(err)
		}
		if patched, err = patch.Apply(admitted); err != nil {
			t.Fatal(err)
		}
	}
	if patched, err = v.Decode(patched); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(patched, &obj); err != nil {
		t.Fatal(err)
	}
	problems := v.Check(obj)
	var meta metav1.ObjectMeta
	if m, ok := obj["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &meta); err != nil {
			t.Fatal(err)
		}
	}
	if meta.Namespace == "" {
		meta.Namespace = ns
	}
	problems.Errors = append(problems.Errors, metavalidation.ValidateObjectMetaAccessor(&meta, true, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	if len(problems.Errors) > 0 {
		return false, "API server: " + problems.Errors.ToAggregate().Error()
	}
	if resp := handle(&webhook.ValidatingHandler{Config: hc}, patched); !resp.Allowed {
		return false, "validating webhook: " + resp.Result.Message
	}
	return true, ""
}

type parityCase struct {
	name   string
	docs   []manifest.Document
	policy *defaults.Policy
}

func parityCorpus(t *testing.T) []parityCase {
	t.Helper()
	var cases []parityCase
	files, err := filepath.Glob(filepath.Join("..", "defaults", "testdata", "expand", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden corpus: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".policy.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := manifest.Read(bytes.NewReader(data), f)
		if err != nil {
			t.Fatal(err)
		}
		policy := defaults.DefaultPolicy()
		if pdata, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".policy.yaml"); err == nil {
			if policy, err = defaults.ParsePolicy(pdata); err != nil {
				t.Fatal(err)
			}
		}
		cases = append(cases, parityCase{name: filepath.Base(f), docs: docs, policy: policy})
	}
	limits, err := defaults.ParsePolicy([]byte("limits: {maxReplicasPerGroup: 100, maxWorkersPerCluster: 8}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cluster := func(spec string) string {
		return "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec:\n  rayVersion: \"2.9.0\"\n" + spec
	}
	for _, c := range []struct {
		name, text string
		limits     bool
	}{
		{"group without maxReplicas under a per-group limit", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), true},
		{"group without maxReplicas", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), false},
		{"RayJob group without maxReplicas under a per-group limit", "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\nspec:\n  entrypoint: python x.py\n  rayClusterSpec:\n    rayVersion: \"2.9.0\"\n    headGroupSpec: {template: {}}\n    workerGroupSpecs: [{groupName: a, template: {}}]\n", true},
		{"image an object", cluster("  headGroupSpec: {template: {spec: {containers: [{name: r, image: {a: 1}}]}}}\n"), false},
		{"limits a list", cluster("  headGroupSpec: {template: {spec: {containers: [{name: r, resources: {limits: [1]}}]}}}\n"), false},
		{"headGroupSpec null", cluster("  headGroupSpec: null\n"), false},
		{"numOfHosts 0.5", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: 0.5, template: {}}]\n"), false},
		{"numOfHosts a string", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: \"4\", template: {}}]\n"), false},
		{"managedBy outside the CEL enum", cluster("  managedBy: me\n  headGroupSpec: {template: {}}\n"), false},
		{"label value with a space", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c, labels: {team: a b}}\nspec:\n  rayVersion: \"2.9.0\"\n  headGroupSpec: {template: {}}\n", false},
		{"unknown field of a newer KubeRay", cluster("  upgradeStrategy: {type: Recreate}\n  headGroupSpec: {template: {}}\n"), false},
	} {
		docs, err := manifest.Read(strings.NewReader(c.text), c.name)
		if err != nil {
			t.Fatal(err)
		}
		p := defaults.DefaultPolicy()
		if c.limits {
			p = limits
		}
		cases = append(cases, parityCase{name: c.name, docs: docs, policy: p})
	}
	return cases
}

// Offline and online give the same verdict: every object of the golden
// corpus, and inputs where `raypilot expand` used to differ from the
// webhook, through manifest.Expand and through the CRD schema and the
// webhook handlers.
func TestOfflineOnlineParity(t *testing.T) {
	compared, denied := 0, 0
	for _, c := range parityCorpus(t) {
		set, err := manifest.Templates(c.docs, "default")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.docs {
			if !defaults.IsExpandable(d.Kind) {
				continue
			}
			t.Run(c.name+"/"+d.Kind+"/"+d.Name, func(t *testing.T) {
				var templates []manifest.Document
				for _, o := range c.docs {
					if o.IsTemplate() {
						templates = append(templates, o)
					}
				}
				out, err := manifest.Expand(append(templates, d), c.policy, "default")
				if err != nil {
					t.Fatal(err)
				}
				offline := len(out.Errors) == 0
				ok, why := online(t, d, set, c.policy)
				if offline != ok {
					t.Errorf("offline allowed=%v (%s), online allowed=%v (%s)\n%s", offline, strings.Join(out.Errors, "; "), ok, why, d.JSON)
				}
				compared++
				if !ok {
					denied++
				}
			})
		}
	}
	if compared < 40 || denied < 10 {
		t.Errorf("compared %d objects, %d denied: the corpus is too thin", compared, denied)
	}
}
