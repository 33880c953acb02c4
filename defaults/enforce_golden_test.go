package defaults_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
)

// Every enforceable field has a golden case that shows it: a case whose
// policy enforces the field and whose output changes when the field is no
// longer enforced. Its policy without the field's default is refused, so
// the table's name, the parser's key and the default agree.
func TestEnforceableFieldsHaveGoldenCases(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range defaults.EnforceableFields() {
		t.Run(name, func(t *testing.T) {
			var shown []string
			for _, c := range corpus {
				if !c.Policy.Enforces(name) {
					continue
				}
				relaxed := *c.Policy
				relaxed.Enforce = slices.DeleteFunc(slices.Clone(c.Policy.Enforce), func(n string) bool { return n == name })
				if !bytes.Equal(withoutHash(render(t, c)), withoutHash(render(t, goldencorpus.Case{Name: c.Name, Dir: c.Dir, Docs: c.Docs, Policy: &relaxed}))) {
					shown = append(shown, c.Name)
				}
				assertDefaultRequired(t, c.Name, name)
			}
			if len(shown) == 0 {
				t.Errorf("no golden case in testdata/expand shows enforce: [%s] (a case whose policy enforces it, with input the enforcement changes)", name)
			}
		})
	}
}

// expandedHash is the audit hash annotation, which covers the policy's
// enforce list and so differs whenever the list does.
var expandedHash = regexp.MustCompile(regexp.QuoteMeta(defaults.AnnotationExpanded) + `: [0-9a-f]+`)

func withoutHash(out []byte) []byte { return expandedHash.ReplaceAll(out, nil) }

// assertDefaultRequired parses the case's policy without defaults.<name>.
func assertDefaultRequired(t *testing.T, caseName, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expand", caseName+".policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	d, _ := doc["defaults"].(map[string]any)
	delete(d, name)
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = defaults.ParsePolicy(out)
	if want := "defaults." + name + " must be set to be enforced"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: policy without defaults.%s: error %v, want %q", caseName, name, err, want)
	}
}
