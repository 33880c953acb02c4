package defaults_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/expand")

// corpusCase is one input of testdata/expand: NAME.yaml, with an optional
// NAME.policy.yaml, and its expected result in NAME.golden.
type corpusCase struct {
	name   string
	docs   []manifest.Document
	policy *defaults.Policy
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "expand", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusCase
	for _, in := range inputs {
		if strings.HasSuffix(in, ".policy.yaml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := manifest.Read(bytes.NewReader(data), in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		policy := defaults.DefaultPolicy()
		if pdata, err := os.ReadFile(strings.TrimSuffix(in, ".yaml") + ".policy.yaml"); err == nil {
			if policy, err = defaults.ParsePolicy(pdata); err != nil {
				t.Fatalf("%s policy: %v", name, err)
			}
		}
		out = append(out, corpusCase{name: name, docs: docs, policy: policy})
	}
	if len(out) == 0 {
		t.Fatal("empty corpus")
	}
	return out
}

// render is what the golden files hold: warnings, errors, then the output.
func render(t testing.TB, c corpusCase) []byte {
	t.Helper()
	res, err := manifest.Expand(c.docs, c.policy, "default")
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	var buf bytes.Buffer
	for _, w := range res.Warnings {
		buf.WriteString("Warning: " + w + "\n")
	}
	for _, e := range res.Errors {
		buf.WriteString("Error: " + e + "\n")
	}
	if len(res.Errors) == 0 {
		out, err := manifest.YAML(res.Documents)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(out)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c)
			path := filepath.Join("testdata", "expand", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./defaults -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; got:\n%s", path, got)
			}
		})
	}
}

// Errors and warnings come out in the same order every time, like outputs.
func TestGoldenDeterministic(t *testing.T) {
	for _, c := range loadCorpus(t) {
		want := render(t, c)
		for i := 0; i < 20; i++ {
			if got := render(t, c); !bytes.Equal(got, want) {
				t.Fatalf("%s: run %d differs:\n%s\nfirst:\n%s", c.name, i, got, want)
			}
		}
	}
}
