package webhook

import (
	"context"
	"errors"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/raypilot/raypilot/defaults"
)

// failingAfter answers template lookups from its source until n of them
// have been made, then fails every lookup.
type failingAfter struct {
	defaults.TemplateSource
	n int
}

func (f *failingAfter) ComputeTemplate(ctx context.Context, ns, name string) (*defaults.Template, error) {
	if f.n--; f.n < 0 {
		return nil, errors.New("cache unavailable")
	}
	return f.TemplateSource.ComputeTemplate(ctx, ns, name)
}

// TestSingleCallAnswersWithTheChecks: with SingleCall the mutating handler
// runs the validating checks on its result and answers with their verdict:
// here the check's template lookup fails, so the admission that the
// expansion alone would allow is answered 503, as the validating webhook
// would answer it; without SingleCall the same admission is allowed.
func TestSingleCallAnswersWithTheChecks(t *testing.T) {
	mutate, _ := handlers(t)
	for _, single := range []bool{false, true} {
		h := &MutatingHandler{mutate.Config}
		h.SingleCall = single
		// One lookup for the expansion (the cluster's template, shared by
		// both groups); the check's lookup fails.
		h.Templates = &failingAfter{TemplateSource: mutate.Templates, n: 1}
		resp := h.Handle(context.Background(), request(admissionv1.Create, "RayCluster", compact))
		if !single {
			if !resp.Allowed || len(resp.Patch) == 0 {
				t.Fatalf("two-call mutate: allowed %v, patch %d bytes, result %+v", resp.Allowed, len(resp.Patch), resp.Result)
			}
			continue
		}
		if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusServiceUnavailable {
			t.Fatalf("single-call mutate with a failing check: allowed %v, result %+v; want 503", resp.Allowed, resp.Result)
		}
	}
}
