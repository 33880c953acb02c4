package defaults_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/expand")

// loadCorpus reads testdata/expand with the loader every way into the
// engine shares (a stale golden or policy file fails it).
func loadCorpus(t testing.TB) []goldencorpus.Case {
	t.Helper()
	cases, err := goldencorpus.Load(filepath.Join("testdata", "expand"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("empty corpus")
	}
	return cases
}

// render is what the golden files hold: warnings, errors, then the output.
func render(t testing.TB, c goldencorpus.Case) []byte {
	t.Helper()
	res, err := manifest.Expand(c.Docs, c.Policy, goldencorpus.Namespace)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	out, err := goldencorpus.Render(res)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return out
}

// TestGolden checks the engine against the corpus and, with -update,
// rewrites it (manifest's and webhook's TestGoldenCorpus then check the
// other ways in against the same files).
func TestGolden(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.Name, func(t *testing.T) {
			got := render(t, c)
			if *update {
				if err := os.WriteFile(c.GoldenPath(), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := c.Golden()
			if err != nil {
				t.Fatalf("%v (run go test ./defaults -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; got:\n%s", c.GoldenPath(), got)
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
				t.Fatalf("%s: run %d differs:\n%s\nfirst:\n%s", c.Name, i, got, want)
			}
		}
	}
}
