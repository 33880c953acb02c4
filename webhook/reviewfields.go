package webhook

import (
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// readRequest fills out from a decoded review request as
// controller-runtime's decoder (sigs.k8s.io/json: keys case-sensitive,
// unknown keys ignored, null leaves the zero value) would, except object
// and oldObject, which the caller takes. It reports false when a field has
// another type: that decoder refuses the review, and readReview leaves it
// to admission.Webhook to refuse in its words. Reading the few fields by
// hand costs a tenth of running that decoder over them.
func readRequest(in jsontree.Object, out *admissionv1.AdmissionRequest) bool {
	r := fieldReader{ok: true}
	out.UID = types.UID(r.str(in, "uid"))
	r.gvk(in, "kind", &out.Kind)
	r.gvr(in, "resource", &out.Resource)
	out.SubResource = r.str(in, "subResource")
	if r.present(in, "requestKind") {
		out.RequestKind = &metav1.GroupVersionKind{}
		r.gvk(in, "requestKind", out.RequestKind)
	}
	if r.present(in, "requestResource") {
		out.RequestResource = &metav1.GroupVersionResource{}
		r.gvr(in, "requestResource", out.RequestResource)
	}
	out.RequestSubResource = r.str(in, "requestSubResource")
	out.Name = r.str(in, "name")
	out.Namespace = r.str(in, "namespace")
	out.Operation = admissionv1.Operation(r.str(in, "operation"))
	r.userInfo(in, "userInfo", &out.UserInfo)
	switch x := in["dryRun"].(type) {
	case nil:
	case bool:
		out.DryRun = &x
	default:
		r.ok = false
	}
	if opts, present := in["options"]; present && opts != nil {
		raw, err := jsontree.Encode(opts)
		r.ok = r.ok && err == nil
		out.Options.Raw = raw
	}
	return r.ok
}

// fieldReader reads typed fields, remembering whether all had their type.
type fieldReader struct{ ok bool }

// present reports whether key holds something other than null.
func (r *fieldReader) present(m jsontree.Object, key string) bool { return m[key] != nil }

func (r *fieldReader) str(m jsontree.Object, key string) string {
	switch x := m[key].(type) {
	case nil:
		return ""
	case string:
		return x
	}
	r.ok = false
	return ""
}

func (r *fieldReader) object(m jsontree.Object, key string) jsontree.Object {
	switch x := m[key].(type) {
	case nil:
		return nil
	case jsontree.Object:
		return x
	}
	r.ok = false
	return nil
}

func (r *fieldReader) strings(m jsontree.Object, key string) []string {
	switch x := m[key].(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			r.ok = r.ok && ok
			out[i] = s
		}
		return out
	}
	r.ok = false
	return nil
}

func (r *fieldReader) gvk(m jsontree.Object, key string, out *metav1.GroupVersionKind) {
	o := r.object(m, key)
	out.Group, out.Version, out.Kind = r.str(o, "group"), r.str(o, "version"), r.str(o, "kind")
}

func (r *fieldReader) gvr(m jsontree.Object, key string, out *metav1.GroupVersionResource) {
	o := r.object(m, key)
	out.Group, out.Version, out.Resource = r.str(o, "group"), r.str(o, "version"), r.str(o, "resource")
}

func (r *fieldReader) userInfo(m jsontree.Object, key string, out *authenticationv1.UserInfo) {
	o := r.object(m, key)
	out.Username, out.UID = r.str(o, "username"), r.str(o, "uid")
	out.Groups = r.strings(o, "groups")
	extra := r.object(o, "extra")
	if extra == nil {
		return
	}
	out.Extra = make(map[string]authenticationv1.ExtraValue, len(extra))
	for k := range extra {
		out.Extra[k] = r.strings(extra, k)
	}
}
