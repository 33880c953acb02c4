package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

func handlers(t *testing.T) (mutate *MutatingHandler, validate *ValidatingHandler) {
	t.Helper()
	set := &defaults.TemplateSet{}
	set.AddComputeTemplate(&v1alpha1.ComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
	})
	policy := defaults.DefaultPolicy()
	hc := Config{Templates: set, Policy: func() *defaults.Policy { return policy }, Log: zap.NewNop()}
	return &MutatingHandler{hc}, &ValidatingHandler{hc}
}

func request(op admissionv1.Operation, kind, obj string) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid-1", Operation: op, Namespace: "ns", Name: "c",
		Kind:   metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: kind},
		Object: runtime.RawExtension{Raw: []byte(obj)},
	}}
}

const compact = `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","annotations":{"ray.io/compute-template":"t"}},
"spec":{"rayVersion":"2.9.0","upgradeStrategy":{"type":"Recreate"},"headGroupSpec":{"template":{}},
"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":5,"priority":7,"template":{}}]}}`

func TestMutatingReturnsMinimalPatch(t *testing.T) {
	mutate, _ := handlers(t)
	resp := mutate.Handle(context.Background(), request(admissionv1.Create, "RayCluster", compact))
	ops := patchOps(t, resp)
	if !resp.Allowed || len(ops) == 0 || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("response: allowed %v, %d patches, result %+v", resp.Allowed, len(ops), resp.Result)
	}
	for _, op := range ops {
		if op.Operation != "add" {
			t.Errorf("compact input needs only add ops, got %s %s", op.Operation, op.Path)
		}
		for _, untouched := range []string{"/spec/upgradeStrategy", "/spec/workerGroupSpecs/0/priority", "/metadata/name", "/spec/rayVersion"} {
			if strings.HasPrefix(op.Path, untouched) {
				t.Errorf("patch touches %s: %+v", untouched, op)
			}
		}
	}
	// Applying the patch gives the engine's expansion exactly.
	want := defaults.Expand(defaults.Input{Object: []byte(compact), Namespace: "ns", Templates: mutate.Templates, Policy: mutate.Policy()})
	got := applyPatch(t, compact, resp)
	if !jsonEqual(t, got, want.Object) {
		t.Errorf("patched object differs from the expansion:\n%s\n%s", got, want.Object)
	}
	// An already expanded object gets no patch at all.
	again := mutate.Handle(context.Background(), request(admissionv1.Update, "RayCluster", string(want.Object)))
	if !again.Allowed || len(again.Patch) != 0 || again.PatchType != nil {
		t.Errorf("expanded object: patch %s", again.Patch)
	}
}

func TestDeniedWithFieldErrors(t *testing.T) {
	mutate, validate := handlers(t)
	bad := strings.Replace(compact, `"minReplicas":0`, `"minReplicas":6`, 1)
	for i, h := range []admission.Handler{mutate, validate} {
		resp := h.Handle(context.Background(), request(admissionv1.Create, "RayCluster", bad))
		if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusUnprocessableEntity {
			t.Fatalf("mutating=%v: response %+v", i == 0, resp.AdmissionResponse)
		}
		if want := "spec.workerGroupSpecs[0].minReplicas: Invalid value: 6: must be <= maxReplicas (5)"; !strings.Contains(resp.Result.Message, want) {
			t.Errorf("message %q lacks %q", resp.Result.Message, want)
		}
		if resp.Result.Details == nil || len(resp.Result.Details.Causes) != 1 || resp.Result.Details.Causes[0].Field != "spec.workerGroupSpecs[0].minReplicas" {
			t.Errorf("causes = %+v", resp.Result.Details)
		}
	}
}

func TestWarningsComeFromTheValidatingWebhookOnly(t *testing.T) {
	mutate, validate := handlers(t)
	warn := strings.Replace(compact, `"headGroupSpec":{`, `"headGroupSpec":{"rayStartParams":{"num-cpus":"16"},`, 1)
	expanded := mutate.Handle(context.Background(), request(admissionv1.Create, "RayCluster", warn))
	if len(expanded.Warnings) != 0 {
		t.Errorf("mutating warnings: %q", expanded.Warnings)
	}
	// The validating handler never patches, even an unexpanded object.
	if unexpanded := validate.Handle(context.Background(), request(admissionv1.Create, "RayCluster", warn)); len(unexpanded.Patch) != 0 || unexpanded.PatchType != nil {
		t.Errorf("validating handler patched: %s", unexpanded.Patch)
	}
	final := applyPatch(t, warn, expanded)
	resp := validate.Handle(context.Background(), request(admissionv1.Create, "RayCluster", string(final)))
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "num-cpus 16") {
		t.Errorf("validating: allowed %v, warnings %q", resp.Allowed, resp.Warnings)
	}
}

// A denial carries the engine's warnings: the API server passes them on,
// and no other handler of ours sees the denied object.
func TestDenialCarriesWarnings(t *testing.T) {
	mutate, validate := handlers(t)
	bad := strings.Replace(strings.Replace(compact, `"minReplicas":0`, `"minReplicas":6`, 1), `"headGroupSpec":{`, `"headGroupSpec":{"rayStartParams":{"num-cpus":"16"},`, 1)
	for i, h := range []admission.Handler{mutate, validate} {
		resp := h.Handle(context.Background(), request(admissionv1.Create, "RayCluster", bad))
		if resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "num-cpus 16") {
			t.Errorf("mutating=%v: allowed %v, warnings %q", i == 0, resp.Allowed, resp.Warnings)
		}
	}
}

func TestIgnoresWhatItDoesNotExpand(t *testing.T) {
	mutate, _ := handlers(t)
	for _, req := range []admission.Request{
		request(admissionv1.Delete, "RayCluster", ""),
		request(admissionv1.Create, "RayCronJob", `{"kind":"RayCronJob"}`),
	} {
		if resp := mutate.Handle(context.Background(), req); !resp.Allowed || len(resp.Patch) > 0 {
			t.Errorf("%s %s: %+v", req.Operation, req.Kind.Kind, resp.AdmissionResponse)
		}
	}
}

func TestDryRunIsAnsweredLikeAnyRequest(t *testing.T) {
	mutate, _ := handlers(t)
	req := request(admissionv1.Create, "RayCluster", compact)
	normal := mutate.Handle(context.Background(), req)
	dry := true
	req.DryRun = &dry
	if got := mutate.Handle(context.Background(), req); string(got.Patch) != string(normal.Patch) || !got.Allowed {
		t.Errorf("dry run: patch %s, normal %s", got.Patch, normal.Patch)
	}
}

func applyPatch(t *testing.T, doc string, resp admission.Response) []byte {
	t.Helper()
	out, err := applyJSONPatch([]byte(doc), resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// patchOps decodes the JSON patch of a response.
func patchOps(t *testing.T, resp admission.Response) []jsonpatchOp {
	t.Helper()
	var ops []jsonpatchOp
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatalf("patch %q: %v", resp.Patch, err)
	}
	return ops
}

type jsonpatchOp struct {
	Operation string `json:"op"`
	Path      string `json:"path"`
	Value     any    `json:"value"`
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

func applyJSONPatch(doc, ops []byte) ([]byte, error) {
	p, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return nil, err
	}
	return p.Apply(doc)
}

// failingSource fails every lookup, as an API server that cannot be reached.
type failingSource struct{ *defaults.TemplateSet }

func (failingSource) ComputeTemplate(context.Context, string, string) (*defaults.Template, error) {
	return nil, errors.New("connection refused")
}

// A failed template lookup is not a verdict: both handlers answer 503
// (retryable) naming the cause, not 422 "not found".
func TestFailedLookupIsRetryable(t *testing.T) {
	hc := Config{Templates: failingSource{&defaults.TemplateSet{}}, Policy: defaults.DefaultPolicy, Log: zap.NewNop()}
	for i, h := range []admission.Handler{&MutatingHandler{hc}, &ValidatingHandler{hc}} {
		mutating := i == 0
		resp := h.Handle(context.Background(), request(admissionv1.Create, "RayCluster", compact))
		if resp.Allowed || resp.Result == nil {
			t.Fatalf("mutating=%v: allowed %v", mutating, resp.Allowed)
		}
		if resp.Result.Code != http.StatusServiceUnavailable || resp.Result.Reason != metav1.StatusReasonServiceUnavailable {
			t.Errorf("mutating=%v: code %d reason %s, want 503 ServiceUnavailable", mutating, resp.Result.Code, resp.Result.Reason)
		}
		if msg := resp.Result.Message; !strings.Contains(msg, "connection refused") || strings.Contains(msg, "not found") {
			t.Errorf("mutating=%v: message %q", mutating, msg)
		}
	}
}
