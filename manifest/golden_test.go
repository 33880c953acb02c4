package manifest_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

// Every golden case through `raypilot expand` (manifest.Expand) renders to
// its golden file; the webhook's tests check the same files through the
// admission handlers.
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
			out, err := manifest.Expand(c.Docs, c.Policy, goldencorpus.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			got, err := goldencorpus.Render(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("raypilot expand differs from %s; got:\n%s", c.GoldenPath(), got)
			}
		})
	}
}
