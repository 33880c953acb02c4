package webhook_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/internal/goldencorpus/webhookdoor"
)

// Every golden case through the admission webhooks (AdmissionReviews to
// the mutating and validating handlers, the mutating one's JSON patch
// applied, the API server's CRD steps between them: webhookdoor) renders
// to its golden file, as through `raypilot expand` (manifest's tests).
func TestGoldenCorpus(t *testing.T) {
	cases, err := goldencorpus.Load(filepath.Join("..", goldencorpus.Dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, err := c.Golden()
			if err != nil {
				t.Fatal(err)
			}
			out, err := webhookdoor.Expand(c.Docs, c.Policy)
			if err != nil {
				t.Fatal(err)
			}
			got, err := goldencorpus.Render(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the webhooks differ from %s; got:\n%s", c.GoldenPath(), got)
			}
		})
	}
}
