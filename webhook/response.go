package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
)

// appendAllowedReview appends the v1 AdmissionReview answering resp, with
// the bytes json.NewEncoder(w).Encode writes for it (reviewServer's
// answer; TestAppendAllowedReview compares them), when resp is an allowed
// answer whose status is only the code 200 that Response.Complete sets:
// every admitted object, the most frequent answer by far. encoding/json
// walks the response by reflection, a tenth of a seed admission; here only
// the warnings go through it, so that they are escaped as it escapes them.
// It reports false for any other answer, which is left to encoding/json.
func appendAllowedReview(dst []byte, resp *admissionv1.AdmissionResponse) ([]byte, bool) {
	r := resp.Result
	if !resp.Allowed || r == nil || r.Code != http.StatusOK || r.Status != "" || r.Message != "" || r.Reason != "" || r.Details != nil ||
		r.Kind != "" || r.APIVersion != "" || r.ResourceVersion != "" || r.Continue != "" || r.SelfLink != "" || r.RemainingItemCount != nil ||
		len(resp.AuditAnnotations) > 0 || !plainString(string(resp.UID)) || (resp.PatchType != nil && !plainString(string(*resp.PatchType))) {
		return dst, false
	}
	dst = append(dst, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"`...)
	dst = append(dst, resp.UID...)
	dst = append(dst, `","allowed":true,"status":{"metadata":{},"code":200}`...)
	if len(resp.Patch) > 0 {
		dst = append(dst, `,"patch":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, resp.Patch)
		dst = append(dst, '"')
	}
	if resp.PatchType != nil {
		dst = append(dst, `,"patchType":"`...)
		dst = append(dst, *resp.PatchType...)
		dst = append(dst, '"')
	}
	if len(resp.Warnings) > 0 {
		w, err := json.Marshal(resp.Warnings)
		if err != nil {
			return dst, false
		}
		dst = append(dst, `,"warnings":`...)
		dst = append(dst, w...)
	}
	return append(dst, "}}\n"...), true
}

// plainString reports whether s encodes in JSON as itself: no character
// encoding/json escapes (quotes, backslashes, controls, <, >, &, non-ASCII).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
