package kuberay

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

// corpusDir is the golden corpus of the defaults package.
var corpusDir = filepath.Join("..", "..", goldencorpus.Dir)

// corpusCase is one case of the golden corpus (internal/goldencorpus).
type corpusCase struct {
	name   string
	golden string // path of the case's golden file
	policy *defaults.Policy
	// templates are the case's templates.
	templates *defaults.TemplateSet
	// objects are the case's RayCluster, RayJob and RayService documents
	// as JSON, unexpanded.
	objects [][]byte
}

// loadCorpus reads every case of the corpus; stale files fail it.
func loadCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	cases, err := goldencorpus.Load(corpusDir)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]corpusCase, 0, len(cases))
	for _, gc := range cases {
		c := corpusCase{name: gc.Name, golden: gc.GoldenPath(), policy: gc.Policy}
		if c.templates, err = manifest.Templates(gc.Docs, goldencorpus.Namespace); err != nil {
			tb.Fatalf("%s templates: %v", gc.Name, err)
		}
		for _, d := range gc.Docs {
			if defaults.IsExpandable(d.Kind) {
				c.objects = append(c.objects, d.JSON)
			}
		}
		out = append(out, c)
	}
	return out
}

// goldenOutput reads a golden file and returns the RayCluster, RayJob and
// RayService documents of its output; accepted is false when it holds
// errors.
func goldenOutput(tb testing.TB, path string) (docs []manifest.Document, accepted bool) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := goldencorpus.Parse(data)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if !g.Accepted() {
		return nil, false
	}
	all, err := manifest.Read(bytes.NewReader(g.Output), path)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	for _, d := range all {
		if defaults.IsExpandable(d.Kind) {
			docs = append(docs, d)
		}
	}
	return docs, true
}
