package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// BenchmarkAdmission measures a full admission through the HTTP handler
// Run serves (NewHTTPHandler): decode the AdmissionReview, expand,
// validate, build the patch, encode the response. Each case has a baseline
// sub-benchmark: controller-runtime's admission.Webhook ServeHTTP with the
// same review and a handler that only answers Allowed, i.e. decoding and
// encoding a review, so the cost of raypilot's work is the difference
// between the two lines of one run, and their ratio is comparable across
// machines and loads.
//
//	go test -run '^$' -bench Admission -benchmem ./webhook/
func BenchmarkAdmission(b *testing.B) {
	ctrllog.SetLogger(zapr.NewLogger(zap.NewNop()))
	mutate, validate := benchHandlers()
	single := &MutatingHandler{mutate.Config}
	single.SingleCall = true
	seed := seedCluster(b)
	large := largeCluster(20, 10)
	expandedSeed := expandOrFail(b, mutate, seed)

	baseline := &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})}
	cases := []struct {
		name    string
		handler admission.Handler
		object  []byte
		op      string
	}{
		{"seed", mutate, seed, "mutate"},
		{"large", mutate, large, "mutate"},
		{"seed-expanded", validate, expandedSeed, "validate"},
		// The single-call mode: seed/mutate and seed-expanded/validate in
		// one call.
		{"seed-single", single, seed, "mutate"},
	}
	for _, c := range cases {
		review := admissionReview(b, c.object)
		wh := NewHTTPHandler(c.handler, zap.NewNop())
		b.Run(c.name+"/"+c.op, func(b *testing.B) {
			checkResponse(b, wh, review, c.handler != validate)
			benchServe(b, wh, review)
		})
		b.Run(c.name+"/baseline", func(b *testing.B) {
			checkResponse(b, baseline, review, false)
			benchServe(b, baseline, review)
		})
	}
}

func benchServe(b *testing.B, wh http.Handler, review []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(review)))
	for b.Loop() {
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, reviewRequest(review))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func reviewRequest(review []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, MutatePath, bytes.NewReader(review))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// checkResponse makes sure the benchmarked path does the real work: the
// review is allowed and, when mutating, carries a patch.
func checkResponse(b *testing.B, wh http.Handler, review []byte, wantPatch bool) {
	b.Helper()
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, reviewRequest(review))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		b.Fatalf("status %d, body %s: %v", rec.Code, rec.Body, err)
	}
	if !out.Response.Allowed {
		b.Fatalf("not allowed: %+v", out.Response.Result)
	}
	if wantPatch && len(out.Response.Patch) == 0 {
		b.Fatal("mutating response has no patch")
	}
	if !wantPatch && len(out.Response.Patch) != 0 {
		b.Fatalf("unexpected patch: %s", out.Response.Patch)
	}
}

func benchHandlers() (mutate *MutatingHandler, validate *ValidatingHandler) {
	set := &defaults.TemplateSet{}
	set.AddComputeTemplate(&v1alpha1.ComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "default-template", Namespace: "default"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
	})
	policy := defaults.DefaultPolicy()
	hc := Config{Templates: set, Policy: func() *defaults.Policy { return policy }, Log: zap.NewNop(), Volumes: NewVolumeCache(), Hashes: NewHashCache()}
	return &MutatingHandler{hc}, &ValidatingHandler{hc}
}

// seedCluster is examples/raycluster.yaml as JSON.
func seedCluster(b *testing.B) []byte {
	b.Helper()
	y, err := os.ReadFile(filepath.Join("..", "examples", "raycluster.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// largeCluster is a compact cluster with groups worker groups and vols
// compact volumes of every type.
func largeCluster(groups, vols int) []byte {
	types := []string{
		`volumeType: CONFIGMAP, source: cm-%d, items: {a.txt: dir/a.txt}`,
		`volumeType: SECRET, source: secret-%d, readOnly: true`,
		`volumeType: PERSISTENT_VOLUME_CLAIM, source: claim-%d, accessMode: RWX`,
		`volumeType: HOST_PATH, source: /data/host-%d, hostPathType: DIRECTORY`,
		`volumeType: EMPTY_DIR, storage: 1Gi`,
		`volumeType: EPHEMERAL, storage: 10Gi, storageClassName: fast, accessMode: RWO`,
	}
	var v strings.Builder
	for i := range vols {
		t := types[i%len(types)]
		if strings.Contains(t, "%d") {
			t = fmt.Sprintf(t, i)
		}
		fmt.Fprintf(&v, "- {name: vol-%d, mountPath: /mnt/vol-%d, %s}\n", i, i, t)
	}
	workers := make([]map[string]any, groups)
	for i := range workers {
		workers[i] = map[string]any{
			"groupName": fmt.Sprintf("wg-%d", i), "minReplicas": 0, "maxReplicas": 10 + i, "template": map[string]any{},
		}
	}
	obj := map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{
			"name": "large-cluster",
			"annotations": map[string]any{
				"ray.io/compute-template":  "default-template",
				defaults.AnnotationVolumes: v.String(),
			},
		},
		"spec": map[string]any{
			"rayVersion": "2.9.0", "enableInTreeAutoscaling": true,
			"headGroupSpec":    map[string]any{"rayStartParams": map[string]any{"num-cpus": "0"}, "template": map[string]any{}},
			"workerGroupSpecs": workers,
		},
	}
	js, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return js
}

func expandOrFail(b *testing.B, h *MutatingHandler, obj []byte) []byte {
	b.Helper()
	res := defaults.Expand(defaults.Input{Object: obj, Namespace: "default", Templates: h.Templates, Policy: h.Policy()})
	if len(res.Errors) > 0 {
		b.Fatalf("expand: %v", res.Errors)
	}
	return res.Object
}

// admissionReview is a full admission.k8s.io/v1 AdmissionReview creating obj
// in namespace default, as the API server sends it.
func admissionReview(b *testing.B, obj []byte) []byte {
	b.Helper()
	var meta struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(obj, &meta); err != nil {
		b.Fatal(err)
	}
	dryRun := false
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             "0f6a3c5e-8a8e-4c39-9d6b-6f3c1f0b2a11",
			Kind:            metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: "RayCluster"},
			Resource:        metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"},
			RequestKind:     &metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: "RayCluster"},
			RequestResource: &metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"},
			Name:            meta.Metadata.Name,
			Namespace:       "default",
			Operation:       admissionv1.Create,
			Object:          runtime.RawExtension{Raw: obj},
			DryRun:          &dryRun,
			Options:         runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions","fieldManager":"kubectl-client-side-apply"}`)},
			UserInfo:        authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}},
		},
	}
	js, err := json.Marshal(review)
	if err != nil {
		b.Fatal(err)
	}
	return js
}
