package chart

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestChartREADMEIsHelmDocsOutput: charts/raypilot/README.md is what
// helm-docs renders from README.md.gotmpl and values.yaml, and every value
// in its table has a description (hack/chart-docs.sh --check, which
// `make chart-docs-check` runs too; `make chart-docs` regenerates it).
func TestChartREADMEIsHelmDocsOutput(t *testing.T) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "chart-docs.sh"), "--check")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
