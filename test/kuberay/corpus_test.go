package kuberay

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// corpusDir is the golden corpus of the defaults package.
var corpusDir = filepath.Join("..", "..", "defaults", "testdata", "expand")

// corpusCase is one input of the golden corpus, read the way
// defaults/golden_test.go reads it: NAME.yaml, with NAME.policy.yaml when
// there is one, and its expected result in NAME.golden.
type corpusCase struct {
	name      string
	policy    *defaults.Policy
	templates *defaults.TemplateSet
	// objects are the case's RayCluster, RayJob and RayService documents
	// as JSON, unexpanded.
	objects [][]byte
}

// loadCorpus reads every case of the corpus, whatever its name.
func loadCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	inputs, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []corpusCase
	for _, in := range inputs {
		if strings.HasSuffix(in, ".policy.yaml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		data, err := os.ReadFile(in)
		if err != nil {
			tb.Fatal(err)
		}
		docs, err := manifest.Read(bytes.NewReader(data), in)
		if err != nil {
			tb.Fatalf("%s: %v", in, err)
		}
		c := corpusCase{name: name, policy: defaults.DefaultPolicy()}
		if pdata, err := os.ReadFile(strings.TrimSuffix(in, ".yaml") + ".policy.yaml"); err == nil {
			if c.policy, err = defaults.ParsePolicy(pdata); err != nil {
				tb.Fatalf("%s policy: %v", name, err)
			}
		}
		if c.templates, err = manifest.Templates(docs, "default"); err != nil {
			tb.Fatalf("%s templates: %v", name, err)
		}
		for _, d := range docs {
			if defaults.IsExpandable(d.Kind) {
				c.objects = append(c.objects, d.JSON)
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		tb.Fatalf("no corpus in %s", corpusDir)
	}
	return out
}

// goldenOutput splits a .golden file (warnings, errors, then "---" and the
// output documents when there is no error) and returns its RayCluster,
// RayJob and RayService documents; accepted is false when the file holds
// errors.
func goldenOutput(tb testing.TB, path string) (docs []manifest.Document, accepted bool) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var header, body []byte
	switch {
	case bytes.HasPrefix(data, []byte("---\n")):
		body = data[len("---\n"):]
	default:
		i := bytes.Index(data, []byte("\n---\n"))
		if i < 0 {
			return nil, false // only warnings and errors: rejected
		}
		header, body = data[:i+1], data[i+len("\n---\n"):]
	}
	for _, line := range strings.Split(string(header), "\n") {
		if strings.HasPrefix(line, "Error: ") {
			return nil, false
		}
	}
	all, err := manifest.Read(bytes.NewReader(body), path)
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
