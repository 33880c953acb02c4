package webhookdoor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/manifest"
)

// review posts an AdmissionReview creating obj (d's kind and name, in ns)
// to hook and returns its response.
func review(hook http.Handler, d manifest.Document, ns string, obj []byte) (*admissionv1.AdmissionResponse, error) {
	uid := types.UID("webhookdoor-" + d.Kind + "-" + d.Name)
	gvk := metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: d.Kind}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: uid, Kind: gvk, RequestKind: &gvk,
			Resource:  metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: strings.ToLower(d.Kind) + "s"},
			Name:      d.Name,
			Namespace: ns,
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: obj},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode the review: %w", err)
	}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	hook.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("decode the response %s: %w", rec.Body, err)
	}
	if out.Response == nil || out.Response.UID != uid {
		return nil, fmt.Errorf("response without this request's UID: %s", rec.Body)
	}
	return out.Response, nil
}

// applyPatch applies a mutating response's JSON patch to obj.
func applyPatch(resp *admissionv1.AdmissionResponse, obj []byte) ([]byte, error) {
	if len(resp.Patch) == 0 {
		return obj, nil
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		return nil, fmt.Errorf("mutating webhook: patch of type %v", resp.PatchType)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		return nil, fmt.Errorf("mutating webhook: decode the patch: %w", err)
	}
	out, err := patch.Apply(obj)
	if err != nil {
		return nil, fmt.Errorf("mutating webhook: patch %s: %w", resp.Patch, err)
	}
	return out, nil
}

// statusErrors are the field errors of a denial, one per cause, worded as
// field.Error words them ("field: detail"); a denial without causes is
// its message.
func statusErrors(s *metav1.Status) []string {
	if s == nil {
		return []string{"denied without a status"}
	}
	if s.Details == nil || len(s.Details.Causes) == 0 {
		return []string{s.Message}
	}
	out := make([]string, 0, len(s.Details.Causes))
	for _, c := range s.Details.Causes {
		out = append(out, c.Field+": "+c.Message)
	}
	return out
}
