package webhook_test

import (
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/internal/goldencorpus/webhookdoor"
	"github.com/raypilot/raypilot/manifest"
)

// Every golden case through the admission webhooks (AdmissionReviews to
// the mutating and validating handlers, the mutating one's JSON patch
// applied, the API server's CRD steps between them: webhookdoor) renders
// to its golden file, as through `raypilot expand` (manifest's tests).
func TestGoldenCorpus(t *testing.T) {
	goldencorpus.Check(t, filepath.Join("..", goldencorpus.Dir), "the webhooks", func(c goldencorpus.Case) (*manifest.Output, error) {
		return webhookdoor.Expand(c.Docs, c.Policy)
	})
}

// The single-call configuration (the mutating webhook checks its own
// result, no validating webhook registered) renders every golden case to
// the same file: the same objects, warnings and denials.
func TestGoldenCorpusSingleCall(t *testing.T) {
	goldencorpus.Check(t, filepath.Join("..", goldencorpus.Dir), "the single-call webhook", func(c goldencorpus.Case) (*manifest.Output, error) {
		return webhookdoor.ExpandSingleCall(c.Docs, c.Policy)
	})
}
