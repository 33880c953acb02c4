package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestAppendAllowedReview: the hand-written answer is byte for byte what
// encoding/json writes for the same review, and every answer it does not
// cover is left to encoding/json.
func TestAppendAllowedReview(t *testing.T) {
	jsonPatch := admissionv1.PatchTypeJSONPatch
	ok := func() admissionv1.AdmissionResponse {
		return admissionv1.AdmissionResponse{UID: "0f6a3c5e-8a8e-4c39-9d6b-6f3c1f0b2a11", Allowed: true, Result: &metav1.Status{Code: http.StatusOK}}
	}
	covered := map[string]func(*admissionv1.AdmissionResponse){
		"allowed": func(*admissionv1.AdmissionResponse) {},
		"patch": func(r *admissionv1.AdmissionResponse) {
			r.Patch, r.PatchType = []byte(`[{"op":"add","path":"/a","value":"<&>"}]`), &jsonPatch
		},
		"empty patch": func(r *admissionv1.AdmissionResponse) { r.Patch = []byte{} },
		"warnings":    func(r *admissionv1.AdmissionResponse) { r.Warnings = []string{`spec: "x" <b> & é`, "\u2028\x01"} },
		"patch and warnings": func(r *admissionv1.AdmissionResponse) {
			r.Patch, r.PatchType, r.Warnings = []byte(`[]`), &jsonPatch, []string{"w"}
		},
	}
	notCovered := map[string]func(*admissionv1.AdmissionResponse){
		"denied":            func(r *admissionv1.AdmissionResponse) { r.Allowed = false },
		"no status":         func(r *admissionv1.AdmissionResponse) { r.Result = nil },
		"status message":    func(r *admissionv1.AdmissionResponse) { r.Result.Message = "m" },
		"status reason":     func(r *admissionv1.AdmissionResponse) { r.Result.Reason = metav1.StatusReasonInvalid },
		"status details":    func(r *admissionv1.AdmissionResponse) { r.Result.Details = &metav1.StatusDetails{} },
		"another code":      func(r *admissionv1.AdmissionResponse) { r.Result.Code = http.StatusForbidden },
		"audit annotations": func(r *admissionv1.AdmissionResponse) { r.AuditAnnotations = map[string]string{"a": "b"} },
		"uid to escape":     func(r *admissionv1.AdmissionResponse) { r.UID = types.UID(`a"<b`) },
	}
	for name, edit := range covered {
		r := ok()
		edit(&r)
		got, done := appendAllowedReview(nil, &r)
		if !done {
			t.Errorf("%s: not written", name)
			continue
		}
		var want bytes.Buffer
		review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: &r}
		if err := json.NewEncoder(&want).Encode(review); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want.Bytes())
		}
	}
	for name, edit := range notCovered {
		r := ok()
		edit(&r)
		if out, done := appendAllowedReview(nil, &r); done {
			t.Errorf("%s: written by hand: %s", name, out)
		}
	}
}
