package defaults_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ruleLine is one rule of doc.go's list: its text, then the golden cases
// that show it in brackets.
var ruleLine = regexp.MustCompile(`^//   - (.+) \[([a-z0-9*, -]+)\]$`)

// TestDocRules holds doc.go's rule list and the golden corpus to each
// other: every rule names at least one existing case (NAME* matches a
// prefix) and every case is named by some rule.
func TestDocRules(t *testing.T) {
	rules := docRules(t)
	if len(rules) == 0 {
		t.Fatal("doc.go has no rule list under # Rules")
	}
	cases := goldenCaseNames(t)
	shown := map[string]bool{}
	for _, r := range rules {
		for _, pattern := range r.cases {
			matched := false
			for _, c := range cases {
				if ok, err := path.Match(pattern, c); err != nil {
					t.Fatalf("rule %q: %v", r.text, err)
				} else if ok {
					matched, shown[c] = true, true
				}
			}
			if !matched {
				t.Errorf("rule %q names %q, which is no case of testdata/expand", r.text, pattern)
			}
		}
	}
	for _, c := range cases {
		if !shown[c] {
			t.Errorf("golden case %s is named by no rule of doc.go", c)
		}
	}
}

type docRule struct {
	text  string
	cases []string
}

// docRules reads the list items after doc.go's "# Rules" heading; an item
// without its cases in brackets is an error.
func docRules(t *testing.T) []docRule {
	t.Helper()
	data, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var rules []docRule
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case line == "// # Rules":
			in = true
		case !in || !strings.HasPrefix(line, "//   - "):
			continue
		default:
			m := ruleLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("doc.go rule without golden cases in brackets: %s", line)
				continue
			}
			rules = append(rules, docRule{text: m[1], cases: strings.Split(m[2], ", ")})
		}
	}
	return rules
}

// goldenCaseNames lists the cases of testdata/expand (NAME.yaml).
func goldenCaseNames(t *testing.T) []string {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "expand", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range inputs {
		if !strings.HasSuffix(in, ".policy.yaml") {
			names = append(names, strings.TrimSuffix(filepath.Base(in), ".yaml"))
		}
	}
	return names
}
