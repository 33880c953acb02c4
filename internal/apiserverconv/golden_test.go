package apiserverconv

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

var update = flag.Bool("update", false, "rewrite the golden files from the converter's output")

// render is what a golden file holds: the YAML, then each warning and
// error as a comment line.
func render(t *testing.T, res Result) []byte {
	t.Helper()
	out, err := YAML(res.Objects)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		out = append(out, "# Warning: "+w+"\n"...)
	}
	for _, e := range res.Errors {
		out = append(out, "# Error: "+e+"\n"...)
	}
	return out
}

// convertFiles converts the files as `raypilot convert -f ... -f ...`
// does, each named by its base name.
func convertFiles(t *testing.T, opts Options, paths ...string) Result {
	t.Helper()
	var inputs []Input
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, Input{Source: filepath.Base(p), Data: data})
	}
	return Convert(inputs, opts)
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; got:\n%s", path, got)
	}
}

// The seed walkthrough's two requests, the compute template and the
// cluster, converted together.
func TestSeedGolden(t *testing.T) {
	res := convertFiles(t, Options{}, "testdata/seed/compute-template.json", "testdata/seed/cluster.json")
	if len(res.Errors) > 0 || len(res.Warnings) > 0 {
		t.Fatalf("errors %q, warnings %q", res.Errors, res.Warnings)
	}
	checkGolden(t, "testdata/seed/converted.golden.yaml", render(t, res))
}

// Every case of testdata/convert renders to its golden file. Cases named
// err-* must fail, with every error naming its request; the others must
// convert into objects raypilot expand accepts as they are, the templates
// coming from the same file.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/convert/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		t.Run(name, func(t *testing.T) {
			res := convertFiles(t, Options{}, p)
			checkGolden(t, strings.TrimSuffix(p, ".json")+".golden.yaml", render(t, res))
			if strings.HasPrefix(name, "err-") {
				if len(res.Errors) == 0 {
					t.Fatal("converted without errors")
				}
				for _, e := range res.Errors {
					if !strings.HasPrefix(e, filepath.Base(p)+": ") {
						t.Errorf("error does not name its input: %s", e)
					}
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %q", res.Errors)
			}
			expandAll(t, res)
		})
	}
}

// expandAll runs the converted objects through raypilot expand (the
// KubeRay CRD schemas and the engine, as the webhook admits them) and
// returns the expanded documents.
func expandAll(t *testing.T, res Result) []manifest.Document {
	t.Helper()
	text, err := YAML(res.Objects)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(bytes.NewReader(text), "converted")
	if err != nil {
		t.Fatalf("converted YAML does not read back: %v\n%s", err, text)
	}
	out, err := manifest.Expand(docs, defaults.DefaultPolicy(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 {
		t.Fatalf("raypilot expand refuses the converted objects: %q\n%s", out.Errors, text)
	}
	return out.Documents
}
