package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// reviewCase is one request body (and content type) sent to both servers.
type reviewCase struct {
	name, contentType string
	body              []byte
	// length overrides the Content-Length when not 0 (-1: unknown).
	length int64
}

func reviewCases(t *testing.T) []reviewCase {
	t.Helper()
	// The stored object refers to a template that is gone: the update is
	// expanded leniently, with the problem as a warning.
	gone := strings.Replace(compact, `"ray.io/compute-template":"t"`, `"ray.io/compute-template":"gone"`, 1)
	bad := strings.Replace(compact, `"name":"c"`, `"name":"Not_A_Name"`, 1)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`
	v1 := func(op admissionv1.Operation, obj, old string) []byte {
		var oldBytes []byte
		if old != "" {
			oldBytes = []byte(old)
		}
		return bytes.Replace(reviewBody(t, op, []byte(obj), oldBytes), []byte(`"default"`), []byte(`"ns"`), 1)
	}
	swap := func(b []byte, from, to string) []byte { return bytes.Replace(b, []byte(from), []byte(to), 1) }
	create := v1(admissionv1.Create, compact, "")
	return []reviewCase{
		{"create", "application/json", create, 0},
		{"create with unknown fields", "application/json", swap(create, `"request":{`, `"extra":[1,{"a":null}],"request":{"future":{"x":1},`), 0},
		{"create of unknown length", "application/json", create, -1},
		{"create shorter than announced", "application/json", create, int64(len(create)) + 100},
		{"create longer than announced", "application/json", create, 10},
		{"update", "application/json", v1(admissionv1.Update, compact, compact), 0},
		{"update keeping a problem", "application/json", v1(admissionv1.Update, gone, gone), 0},
		{"update with a new problem", "application/json", v1(admissionv1.Update, gone, compact), 0},
		{"denied", "application/json", v1(admissionv1.Create, bad, ""), 0},
		{"not a Ray object", "application/json", v1(admissionv1.Create, pod, ""), 0},
		{"delete", "application/json", v1(admissionv1.Delete, "null", compact), 0},
		{"object not an object", "application/json", v1(admissionv1.Create, `[1]`, ""), 0},
		{"old object not an object", "application/json", v1(admissionv1.Update, compact, `"x"`), 0},
		{"v1beta1", "application/json", swap(create, `"admission.k8s.io/v1"`, `"admission.k8s.io/v1beta1"`), 0},
		{"request field of the wrong type", "application/json", swap(create, `"uid":"fuzz-uid"`, `"uid":5`), 0},
		{"field named in another case", "application/json", swap(create, `"uid":"fuzz-uid"`, `"UID":"fuzz-uid"`), 0},
		{"no request", "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), 0},
		{"malformed", "application/json", create[:len(create)-3], 0},
		{"trailing data", "application/json", append(append([]byte{}, create...), " {}"...), 0},
		{"empty", "application/json", nil, 0},
		{"other content type", "application/yaml", create, 0},
		{"too large", "application/json", append(append([]byte{}, create...), bytes.Repeat([]byte(" "), maxReviewBytes)...), 0},
	}
}

// serve posts c to h and returns the status and the body.
func serve(h http.Handler, c reviewCase) (int, string) {
	var body *bytes.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req := httptest.NewRequest(http.MethodPost, MutatePath, nil)
	if body != nil {
		req = httptest.NewRequest(http.MethodPost, MutatePath, body)
	}
	req.Header.Set("Content-Type", c.contentType)
	if c.length != 0 {
		req.ContentLength = c.length
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// NewHTTPHandler answers every request, well-formed or not, byte for byte
// as controller-runtime's admission.Webhook does.
func TestHTTPHandlerAnswersAsAdmissionWebhook(t *testing.T) {
	mutate, validate := handlers(t)
	mutate.Volumes, validate.Volumes = NewVolumeCache(), NewVolumeCache()
	panics := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { panic("boom") })
	for _, h := range []struct {
		name string
		h    admission.Handler
	}{{"mutate", mutate}, {"validate", validate}, {"panic", panics}} {
		ours := NewHTTPHandler(h.h, zap.NewNop())
		theirs := &admission.Webhook{Handler: h.h, RecoverPanic: ptr(true)}
		for _, c := range reviewCases(t) {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				wantCode, want := serve(theirs, c)
				gotCode, got := serve(ours, c)
				if gotCode != wantCode || got != want {
					t.Errorf("got %d %s\nwant %d %s", gotCode, got, wantCode, want)
				}
			})
		}
	}
}

// A v1 JSON review is decoded once: the handler gets the object decoded,
// and no copy of it in Object.Raw. Other reviews go through
// controller-runtime's decoding.
func TestHTTPHandlerDecodesOnce(t *testing.T) {
	for _, c := range reviewCases(t) {
		var fast, called bool
		h := admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
			called = true
			d, ok := decoded(ctx, req)
			fast = ok && d.object != nil && req.Object.Raw == nil
			return admission.Allowed("")
		})
		serve(NewHTTPHandler(h, zap.NewNop()), c)
		wantFast := strings.HasPrefix(c.name, "create") || strings.HasPrefix(c.name, "update") ||
			c.name == "denied" || c.name == "not a Ray object" || c.name == "field named in another case"
		if called && fast != wantFast {
			t.Errorf("%s: decoded once %v, want %v", c.name, fast, wantFast)
		}
	}
}

// readRequest reads what controller-runtime's decoder reads from a
// request, or refuses it.
func TestReadRequestAsDecoder(t *testing.T) {
	for _, js := range []string{
		`{"uid":"u","kind":{"group":"ray.io","version":"v1","kind":"RayCluster"},"resource":{"group":"ray.io","version":"v1","resource":"rayclusters"},` +
			`"subResource":"s","requestKind":{"group":"g","version":"v","kind":"k"},"requestResource":{"group":"g","version":"v","resource":"r"},"requestSubResource":"rs",` +
			`"name":"n","namespace":"ns","operation":"UPDATE","userInfo":{"username":"me","uid":"1","groups":["a","b"],"extra":{"x":["1"],"y":[],"z":null}},` +
			`"dryRun":true,"options":{"kind":"UpdateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl"},"unknown":[1]}`,
		`{"uid":null,"kind":null,"requestKind":null,"requestResource":null,"userInfo":{"groups":[],"extra":{}},"dryRun":null,"options":null}`,
		`{}`,
		`{"UID":"u","Name":"n","userinfo":{"username":"x"}}`,
		`{"uid":5}`,
		`{"kind":"RayCluster"}`,
		`{"requestKind":[]}`,
		`{"userInfo":{"groups":"a"}}`,
		`{"userInfo":{"groups":[1]}}`,
		`{"userInfo":{"extra":{"x":"1"}}}`,
		`{"dryRun":"true"}`,
		`{"operation":true}`,
	} {
		doc, err := jsontree.Decode([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		var got, want admissionv1.AdmissionRequest
		ok := readRequest(doc.(jsontree.Object), &got)
		wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(js), &want)
		if ok != (wantErr == nil) {
			t.Errorf("%s: read %v, decoder error %v", js, ok, wantErr)
			continue
		}
		if !ok {
			continue
		}
		// Options are re-encoded: the same JSON, compared as such.
		if (got.Options.Raw == nil) != (want.Options.Raw == nil) || (got.Options.Raw != nil && !jsonEqual(t, got.Options.Raw, want.Options.Raw)) {
			t.Errorf("%s: options %s, want %s", js, got.Options.Raw, want.Options.Raw)
		}
		got.Options.Raw, want.Options.Raw = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nread    %+v\ndecoded %+v", js, got, want)
		}
	}
}
