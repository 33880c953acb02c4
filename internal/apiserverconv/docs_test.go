package apiserverconv

import (
	"os"
	"strings"
	"testing"
)

// docs/kuberay-apiserver.md shows the seed's requests and what convert
// prints for them: the output blocks must be the golden files, which the
// tests above hold to the converter's output.
func TestDocsShowConverterOutput(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kuberay-apiserver.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"testdata/seed/compute-template.json",
		"testdata/seed/converted.golden.yaml",
		"testdata/convert/seed-jobs.golden.yaml",
	} {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "\n"+string(want)+"```\n") {
			t.Errorf("docs/kuberay-apiserver.md does not show %s as a block of its own; copy it in", p)
		}
	}
}
