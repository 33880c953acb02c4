package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/crdschema"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

// fuzzWorld is what every fuzz iteration admits against: the templates of
// the whole golden corpus (defaults/testdata/expand) as a static source, and
// the handlers of two policies, built once per process.
type fuzzWorld struct {
	// objects are the corpus's RayCluster, RayJob and RayService documents.
	objects [][]byte
	// servers are the mutate and validate endpoints, as server.go registers
	// them, per policy: [0] the built-in policy, [1] central autoscaling with
	// enforced fields and limits.
	servers [2]*http.ServeMux
	// handlers are the same handlers, for re-admission without HTTP.
	handlers [2][2]admission.Handler // [policy][0 mutate, 1 validate]
}

var (
	worldOnce sync.Once
	world     *fuzzWorld
	worldErr  error
)

// enforcingPolicyIndex is strictPolicy's index in fuzzWorld.handlers.
const enforcingPolicyIndex = 1

const strictPolicy = `
defaults:
  image: "rayproject/ray:{rayVersion}"
  priorityClassName: ray-batch
  podLabels: {tier: standard}
  containerSecurityContext: {privileged: false, allowPrivilegeEscalation: false}
  autoscaling: {mode: central, upscalingMode: Default, idleTimeoutSeconds: 60}
enforce: [image, priorityClassName, podLabels, containerSecurityContext]
limits: {maxReplicasPerGroup: 10, maxWorkersPerCluster: 20, maxCPUPerPod: "8", allowedImagePrefixes: ["rayproject/"]}
`

func loadFuzzWorld() (*fuzzWorld, error) {
	worldOnce.Do(func() { world, worldErr = buildFuzzWorld() })
	return world, worldErr
}

func buildFuzzWorld() (*fuzzWorld, error) {
	// controller-runtime logs undecodable requests; keep the fuzzer quiet.
	ctrllog.SetLogger(zapr.NewLogger(zap.NewNop()))
	cases, err := goldencorpus.Load(filepath.Join("..", goldencorpus.Dir))
	if err != nil {
		return nil, err
	}
	w := &fuzzWorld{}
	var templates []manifest.Document
	for _, c := range cases {
		for _, d := range c.Docs {
			if d.IsTemplate() {
				templates = append(templates, d)
			} else if defaults.IsExpandable(d.Kind) {
				w.objects = append(w.objects, d.JSON)
			}
		}
	}
	set, err := manifest.Templates(templates, "default")
	if err != nil {
		return nil, err
	}
	strict, err := defaults.ParsePolicy([]byte(strictPolicy))
	if err != nil {
		return nil, err
	}
	for i, p := range []*defaults.Policy{defaults.DefaultPolicy(), strict} {
		mux := http.NewServeMux()
		hc := Config{Templates: set, Policy: func() *defaults.Policy { return p }, Log: zap.NewNop()}
		w.handlers[i] = [2]admission.Handler{&MutatingHandler{hc}, &ValidatingHandler{hc}}
		for j, path := range []string{MutatePath, ValidatePath} {
			// No RecoverPanic: a panic must fail the fuzz iteration, not
			// turn into a 500 response.
			mux.Handle(path, NewHTTPHandler(w.handlers[i][j], zap.NewNop()))
		}
		w.servers[i] = mux
	}
	return w, nil
}

// reviewBody wraps obj in an AdmissionReview request for kind.
func reviewBody(t testing.TB, op admissionv1.Operation, obj, old []byte) []byte {
	t.Helper()
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &head)
	req := &admissionv1.AdmissionRequest{
		UID: "fuzz-uid", Operation: op, Namespace: "default", Name: head.Metadata.Name,
		Kind:     metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: head.Kind},
		Resource: metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: strings.ToLower(head.Kind) + "s"},
		Object:   runtime.RawExtension{Raw: obj},
	}
	if old != nil {
		req.OldObject = runtime.RawExtension{Raw: old}
	}
	review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// unversionedReview mirrors controller-runtime's unversionedAdmissionReview:
// a type the scheme does not know, so the decoder unmarshals into it
// whatever kind the body claims.
type unversionedReview struct {
	admissionv1.AdmissionReview
}

// decodeReview decodes a request body the way controller-runtime v0.25 does
// (pkg/webhook/admission/http.go): its universal deserializer over a scheme
// with admission.k8s.io v1 and v1beta1, into an unregistered type carrying
// the v1 GVK.
func decodeReview(body []byte) (*admissionv1.AdmissionRequest, error) {
	scheme := runtime.NewScheme()
	if err := admissionv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := admissionv1beta1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	req := &admissionv1.AdmissionRequest{}
	ar := unversionedReview{}
	ar.Request = req
	ar.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
	if _, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(body, nil, &ar); err != nil {
		return nil, err
	}
	if ar.Request == nil {
		return &admissionv1.AdmissionRequest{}, nil
	}
	return ar.Request, nil
}

// FuzzAdmission posts arbitrary bytes as an AdmissionReview body to the real
// handlers (NewHTTPHandler over httptest, as
// server.go registers them) and checks every answer with checkAdmission.
// Seeds: every corpus object as a CREATE and as an UPDATE of itself, for
// both endpoints and both policies, plus broken bodies.
func FuzzAdmission(f *testing.F) {
	w, err := loadFuzzWorld()
	if err != nil {
		f.Fatal(err)
	}
	for i, obj := range w.objects {
		f.Add(reviewBody(f, admissionv1.Create, obj, nil), uint8(i%2), uint8(i/2%2))
		f.Add(reviewBody(f, admissionv1.Update, obj, obj), uint8((i+1)%2), uint8(i%2))
	}
	for _, b := range []string{"", "{}", "null", `{"request":null}`, `{"request":{"uid":"u","kind":{"kind":"RayCluster"},"operation":"CREATE","object":[]}}`,
		`{"request":{"uid":"u","kind":{"kind":"RayCluster"},"operation":"CREATE","object":{"kind":"RayCluster"}}}`, "request: {uid: y}"} {
		f.Add([]byte(b), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, endpoint, policy uint8) {
		path := MutatePath
		if endpoint%2 == 1 {
			path = ValidatePath
		}
		checkAdmission(t, w, int(policy%2), path, body)
	})
}

// FuzzAdmissionStructured starts from a corpus object that admits and
// replaces (or adds) one value anywhere in it with fuzzed JSON: the body is
// always a well-formed review of a nearly valid object, so the fuzzer spends
// its time in the expansion rules rather than in the JSON decoder.
func FuzzAdmissionStructured(f *testing.F) {
	w, err := loadFuzzWorld()
	if err != nil {
		f.Fatal(err)
	}
	for i := range w.objects {
		for _, v := range []string{`null`, `""`, `-1`, `"x"`, `{}`, `[]`, `{"a":"b"}`, `2147483648`, `1.5`, `[{}]`, `"ray.io/compute-template"`} {
			f.Add(uint16(i), uint16(i*7), v, "", uint8(i%4))
		}
	}
	f.Fuzz(func(t *testing.T, which, where uint16, value, newKey string, mode uint8) {
		var obj any
		if err := utiljson.Unmarshal(w.objects[int(which)%len(w.objects)], &obj); err != nil {
			t.Fatal(err)
		}
		var v any
		if utiljson.Unmarshal([]byte(value), &v) != nil {
			v = value // not JSON: use it as a string
		}
		obj = mutateAt(obj, int(where), newKey, v)
		data, err := json.Marshal(obj)
		if err != nil {
			return // NaN and the like cannot be sent
		}
		op, old := admissionv1.Create, []byte(nil)
		if mode&2 != 0 {
			// An UPDATE from the unmodified corpus object, as stored.
			op, old = admissionv1.Update, w.objects[int(which)%len(w.objects)]
		}
		checkAdmission(t, w, int(mode%2), MutatePath, reviewBody(t, op, data, old))
	})
}

// mutateAt sets the value at the n-th node (preorder, modulo the node
// count) of doc: the node itself is replaced, or, when key is not empty and
// the node is an object, key is set in it.
func mutateAt(doc any, n int, key string, v any) any {
	// Maps hold values, not addresses: each node is reached through a getter
	// and a setter on its parent.
	type slot struct {
		get func() any
		set func(any)
	}
	var slots []slot
	var collect func(get func() any, set func(any))
	collect = func(get func() any, set func(any)) {
		slots = append(slots, slot{get, set})
		switch c := get().(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(c)) {
				collect(func() any { return c[k] }, func(x any) { c[k] = x })
			}
		case []any:
			for i := range c {
				collect(func() any { return c[i] }, func(x any) { c[i] = x })
			}
		}
	}
	collect(func() any { return doc }, func(x any) { doc = x })
	s := slots[n%len(slots)]
	if m, ok := s.get().(map[string]any); ok && key != "" {
		m[key] = v
	} else {
		s.set(v)
	}
	return doc
}

// checkAdmission posts body to path and checks the admission invariants:
//   - no panic (the webhook has no RecoverPanic here);
//   - HTTP 200 with a well-formed AdmissionReview response: controller-runtime
//     answers undecodable bodies with allowed=false and code 400 inside a
//     200, never with an HTTP error status;
//   - the response's UID is the request's; a denial carries a Status with
//     a 4xx code (a 5xx is an internal error of raypilot: a finding);
//   - an allowed mutation's patch applies to the object, and the result
//     (a) admits again with no patch (idempotent) and passes the validating
//     webhook, (b) keeps every field the RayCluster/RayJob/RayService CRD
//     does not know with its value, and (c) when the input passed the
//     KubeRay v1.5.0 CRD schema, passes it too with nothing new pruned, and
//     passes KubeRay's ValidateRayClusterSpec unless the input already failed it.
func checkAdmission(t *testing.T, w *fuzzWorld, policy int, path string, body []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	httpReq := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	httpReq.Header.Set("Content-Type", "application/json")
	if len(body) == 0 {
		httpReq.Body = http.NoBody // what net/http gives a handler for an empty POST
	}
	w.servers[policy].ServeHTTP(rec, httpReq)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("response is not an AdmissionReview (%v): %s", err, rec.Body)
	}
	resp := out.Response
	req, decodeErr := decodeReview(body)
	if len(body) == 0 || decodeErr != nil {
		if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
			t.Fatalf("undecodable body (%v) answered %+v", decodeErr, resp)
		}
		return
	}
	if resp.UID != req.UID {
		t.Fatalf("response UID %q, request UID %q", resp.UID, req.UID)
	}
	if !resp.Allowed {
		if resp.Result == nil || resp.Result.Code < 400 || resp.Result.Code >= 500 || resp.Result.Message == "" {
			t.Fatalf("denial without a 4xx status and message: %+v", resp.Result)
		}
		return
	}
	if len(resp.Patch) == 0 {
		if resp.PatchType != nil {
			t.Fatalf("patch type %v without a patch", *resp.PatchType)
		}
		return
	}
	if path != MutatePath {
		t.Fatalf("the validating webhook returned a patch: %s", resp.Patch)
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch without type JSONPatch: %v", resp.PatchType)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("undecodable patch %s: %v", resp.Patch, err)
	}
	in := req.Object.Raw
	patched, err := patch.Apply(in)
	if err != nil {
		t.Fatalf("patch %s does not apply to %s: %v", resp.Patch, in, err)
	}
	checkExpansion(t, w, policy, req, in, patched)
}

func checkExpansion(t *testing.T, w *fuzzWorld, policy int, req *admissionv1.AdmissionRequest, in, patched []byte) {
	t.Helper()
	again := *req
	again.Object = runtime.RawExtension{Raw: patched}
	for i, h := range w.handlers[policy] {
		r := h.Handle(context.Background(), admission.Request{AdmissionRequest: again})
		if !r.Allowed {
			t.Fatalf("mutating=%v denies the mutating webhook's own output: %+v\ninput %s\noutput %s", i == 0, r.Result, in, patched)
		}
		if len(r.Patches) > 0 {
			t.Fatalf("not idempotent: the expansion gets patched again with %+v\ninput %s\noutput %s", r.Patches, in, patched)
		}
	}
	kind := req.Kind.Kind
	v, err := crdschema.For(kind)
	if err != nil {
		t.Fatal(err)
	}
	var inObj, outObj map[string]any
	if utiljson.Unmarshal(in, &inObj) != nil || utiljson.Unmarshal(patched, &outObj) != nil {
		t.Fatalf("not JSON objects:\n%s\n%s", in, patched)
	}
	for ptr, val := range v.UnknownFields(inObj) {
		// Under the enforcing policy, an enforced field (securityContext,
		// priorityClassName, ...) is replaced whole by design, unknown
		// subfields included; the apiserver prunes those anyway. Every
		// other unknown field must survive.
		// Likewise a value of the wrong type for the CRD (an object where
		// the image string belongs) replaced by a default.
		parent := ptr[:strings.LastIndex(ptr, "/")]
		pin, _ := crdschema.Lookup(inObj, parent)
		pout, _ := crdschema.Lookup(outObj, parent)
		if fmt.Sprintf("%T", pin) != fmt.Sprintf("%T", pout) || policy == enforcingPolicyIndex && !reflect.DeepEqual(pin, pout) {
			continue
		}
		if got, ok := crdschema.Lookup(outObj, ptr); !ok || !reflect.DeepEqual(got, val) {
			t.Fatalf("field %s unknown to the CRD was %v, is %v (present %v)\ninput %s\noutput %s", ptr, val, got, ok, in, patched)
		}
	}
	if kind != "RayCluster" {
		return
	}
	before, after := v.Check(inObj), v.Check(outObj)
	if len(before.Errors) > 0 {
		return // the apiserver rejects the input anyway
	}
	if len(after.Errors) > 0 {
		t.Fatalf("a schema-valid input expands to an object the KubeRay CRD rejects:\n%s\ninput %s\noutput %s", after, in, patched)
	}
	for _, p := range after.Pruned {
		if !slices.Contains(before.Pruned, p) {
			t.Fatalf("the apiserver would drop %s, which the webhook wrote\ninput %s\noutput %s", p, in, patched)
		}
	}
	if err := crdschema.ValidateKubeRay(patched); err != nil && crdschema.ValidateKubeRay(withContainers(in)) == nil {
		t.Fatalf("KubeRay rejects the expansion of an input it accepts: %v\ninput %s\noutput %s", err, in, patched)
	}
}

// withContainers gives every group without containers a bare one, so that
// "KubeRay accepts the input" means accepting everything but the empty
// templates the webhook is there to fill.
func withContainers(data []byte) []byte {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return data
	}
	spec, _ := obj["spec"].(map[string]any)
	var groups []any
	if h, ok := spec["headGroupSpec"]; ok {
		groups = append(groups, h)
	}
	if ws, ok := spec["workerGroupSpecs"].([]any); ok {
		groups = append(groups, ws...)
	}
	for _, g := range groups {
		gm, _ := g.(map[string]any)
		tmpl, _ := gm["template"].(map[string]any)
		if tmpl == nil {
			continue
		}
		ps, _ := tmpl["spec"].(map[string]any)
		if ps == nil {
			ps = map[string]any{}
			tmpl["spec"] = ps
		}
		if cs, _ := ps["containers"].([]any); len(cs) == 0 {
			ps["containers"] = []any{map[string]any{"name": "c"}}
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return data
	}
	return out
}
