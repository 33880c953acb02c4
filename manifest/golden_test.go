package manifest_test

import (
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

// Every golden case through `raypilot expand` (manifest.Expand) renders to
// its golden file; the webhook's tests check the same files through the
// admission handlers.
func TestGoldenCorpus(t *testing.T) {
	goldencorpus.Check(t, filepath.Join("..", goldencorpus.Dir), "raypilot expand", func(c goldencorpus.Case) (*manifest.Output, error) {
		return manifest.Expand(c.Docs, c.Policy, goldencorpus.Namespace)
	})
}
