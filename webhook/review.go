package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// maxReviewBytes is the body limit of controller-runtime's
// admission.Webhook (maxRequestSize in
// sigs.k8s.io/controller-runtime/pkg/webhook/admission/http.go): a larger
// body is left to it, to be refused in its words.
const maxReviewBytes = 7 << 20

// maxPooledAnswer is the largest answer buffer kept for reuse: the seed's
// is 4 KiB and a 20-group cluster's 60 KiB; a rare huge one is not held.
const maxPooledAnswer = 1 << 20

// reviewServer serves AdmissionReviews to one handler, reading each body
// once. controller-runtime's admission.Webhook decodes a review into
// admission.Request, copying the object into Object.Raw, and the engine
// then parses Object.Raw again: together the larger part of a small
// admission. reviewServer decodes a v1 JSON review with jsontree, hands the
// object's tree to the engine through the context (decodedObject), and
// answers through the same admission.Webhook's Handle (panic recovery and
// its metric, Response.Complete) and response encoding. Whatever it does
// not recognise (another content type, a v1beta1 review, an empty, huge or
// malformed body, a review without an object) goes to the admission.Webhook
// unchanged, so that every refusal is worded as before.
type reviewServer struct {
	webhook *admission.Webhook
	log     *zap.Logger
	// answers holds *[]byte buffers the answers are written into, reused
	// so that a large patch's answer is not a new allocation each time.
	answers sync.Pool
}

// NewHTTPHandler serves AdmissionReviews to h as controller-runtime's
// admission.Webhook with RecoverPanic does, decoding the review once when
// h is one of this package's handlers.
func NewHTTPHandler(h admission.Handler, log *zap.Logger) http.Handler {
	return &reviewServer{webhook: &admission.Webhook{Handler: h, RecoverPanic: ptr(true)}, log: log}
}

// decodedObject carries the review's object, decoded, to Config.expand.
type decodedObject struct {
	uid    string
	object jsontree.Object
}

type decodedObjectKey struct{}

// decoded returns the object of req decoded by reviewServer, if any.
func decoded(ctx context.Context, req admission.Request) (*decodedObject, bool) {
	d, ok := ctx.Value(decodedObjectKey{}).(*decodedObject)
	if !ok || d.uid != string(req.UID) {
		return nil, false
	}
	return d, true
}

func (s *reviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.Header.Get("Content-Type") != "application/json" {
		s.webhook.ServeHTTP(w, r)
		return
	}
	body, err := readBody(r, maxReviewBytes+1)
	if err != nil || len(body) > maxReviewBytes {
		s.fallback(w, r, body)
		return
	}
	req, d, ok := readReview(body)
	if !ok {
		s.fallback(w, r, body)
		return
	}
	resp := s.webhook.Handle(context.WithValue(r.Context(), decodedObjectKey{}, d), req)
	buf, _ := s.answers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer func() {
		if cap(*buf) <= maxPooledAnswer {
			s.answers.Put(buf)
		}
	}()
	if out, ok := appendAllowedReview((*buf)[:0], &resp.AdmissionResponse); ok {
		*buf = out
		// The same bytes and headers as the encoder below writes.
		if _, err := w.Write(out); err != nil {
			s.log.Error("unable to write the response", zap.Error(err))
		}
		return
	}
	// As admission.Webhook's writeResponseTyped for a v1 review.
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: &resp.AdmissionResponse,
	}
	if err := json.NewEncoder(w).Encode(review); err != nil {
		s.log.Error("unable to encode and write the response", zap.Error(err))
		failed := admission.Errored(http.StatusInternalServerError, err)
		if err := json.NewEncoder(w).Encode(admissionv1.AdmissionReview{Response: &failed.AdmissionResponse}); err != nil {
			s.log.Error("still unable to encode and write the InternalServerError response", zap.Error(err))
		}
	}
}

// readBody reads at most limit bytes of r's body into a buffer of the
// announced length (the API server sends Content-Length), not one grown
// from 512 bytes as io.ReadAll does.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	size := r.ContentLength + 1 // room to see the end without growing
	if size <= 1 || size > limit {
		size = 512
	}
	body := make([]byte, 0, size)
	lr := io.LimitReader(r.Body, limit)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := lr.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, nil
		}
		if err != nil {
			return body, err
		}
	}
}

// fallback hands r to the admission.Webhook with the part of the body
// already read put back in front of the rest.
func (s *reviewServer) fallback(w http.ResponseWriter, r *http.Request, read []byte) {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(io.MultiReader(bytes.NewReader(read), r.Body))
	defer r.Body.Close()
	s.webhook.ServeHTTP(w, r2)
}

// readReview decodes a v1 AdmissionReview whose request has an object
// (and, if any, an old object) that is a JSON object, and whose other
// request fields have the types of admissionv1.AdmissionRequest (see
// readRequest).
func readReview(body []byte) (admission.Request, *decodedObject, bool) {
	var req admission.Request
	doc, err := jsontree.Decode(body)
	if err != nil {
		return req, nil, false
	}
	root, _ := doc.(jsontree.Object)
	if root["apiVersion"] != admissionv1.SchemeGroupVersion.String() || root["kind"] != "AdmissionReview" {
		return req, nil, false
	}
	in, _ := root["request"].(jsontree.Object)
	object, _ := in["object"].(jsontree.Object)
	if object == nil || !readRequest(in, &req.AdmissionRequest) {
		return req, nil, false
	}
	if old, present := in["oldObject"]; present && old != nil {
		oldObject, _ := old.(jsontree.Object)
		if oldObject == nil {
			return req, nil, false
		}
		// The engine reads the stored object from JSON: it is read only on
		// UPDATE, and only for what the update keeps.
		if req.OldObject.Raw, err = jsontree.Encode(oldObject); err != nil {
			return req, nil, false
		}
	}
	return req, &decodedObject{uid: string(req.UID), object: object}, true
}
