package goldencorpus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

const cluster = "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec: {rayVersion: \"2.9.0\", headGroupSpec: {template: {}}}\n"

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yaml": cluster, "b.golden": "---\n",
		"a.yaml": cluster, "a.policy.yaml": "limits: {maxWorkersPerCluster: 3}\n",
	})
	cases, err := goldencorpus.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || cases[0].Name != "a" || cases[1].Name != "b" {
		t.Fatalf("cases %+v", cases)
	}
	if cases[0].Policy == cases[1].Policy || len(cases[1].Docs) != 1 || cases[1].Docs[0].Kind != "RayCluster" {
		t.Errorf("a has its policy, b the built-in one and its document: %+v", cases)
	}
	if g, err := cases[1].Golden(); err != nil || string(g) != "---\n" {
		t.Errorf("golden %q, %v", g, err)
	}
	if _, err := cases[0].Golden(); err == nil {
		t.Error("a has no golden file: want an error")
	}
}

// A golden file or policy whose input is gone, and any file that belongs
// to no case, fail the load, naming the file.
func TestLoadRefusesStaleFiles(t *testing.T) {
	for _, stale := range []string{"gone.golden", "gone.policy.yaml", "notes.txt", "typo.yml"} {
		dir := writeFiles(t, map[string]string{"a.yaml": cluster, "a.golden": "---\n", stale: "x"})
		_, err := goldencorpus.Load(dir)
		if err == nil || !strings.Contains(err.Error(), stale) {
			t.Errorf("%s: error %v", stale, err)
		}
	}
	if _, err := goldencorpus.Load(t.TempDir()); err == nil {
		t.Error("an empty corpus loads")
	}
}

func TestRenderParse(t *testing.T) {
	docs, err := manifest.Read(strings.NewReader(cluster), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []*manifest.Output{
		{Warnings: []string{"w1", "w2\nsecond line"}, Documents: docs},
		{Warnings: []string{"w"}, Errors: []string{"e1", "e2"}, Documents: docs},
	} {
		data, err := goldencorpus.Render(out)
		if err != nil {
			t.Fatal(err)
		}
		g, err := goldencorpus.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(g.Warnings, "|") != strings.Join(out.Warnings, "|") || strings.Join(g.Errors, "|") != strings.Join(out.Errors, "|") {
			t.Errorf("%q parses to %+v", data, g)
		}
		if g.Accepted() != (len(out.Errors) == 0) || g.Accepted() != strings.Contains(string(g.Output), "kind: RayCluster") {
			t.Errorf("%q: accepted %v, output %q", data, g.Accepted(), g.Output)
		}
	}
	for _, bad := range []string{"", "garbage\n---\n", "Error: e\n---\nkind: X\n"} {
		if _, err := goldencorpus.Parse([]byte(bad)); err == nil {
			t.Errorf("%q parses", bad)
		}
	}
}

// AdmitEach assembles a door's verdicts as manifest.Expand does, list
// documents included, and leaves its input alone.
func TestAdmitEachMatchesExpand(t *testing.T) {
	text := "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(cluster, "\n", "\n  ") +
		"\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n---\n# as written\napiVersion: v1\nkind: Service\nmetadata: {name: t}\n---\n" + cluster
	docs, err := manifest.Read(strings.NewReader(text), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := string(docs[0].Items[0].JSON)
	engine := func(d manifest.Document) (goldencorpus.Verdict, error) {
		res := defaults.Expand(defaults.Input{Object: d.JSON, Namespace: goldencorpus.Namespace, Policy: defaults.DefaultPolicy(), Templates: &defaults.TemplateSet{}})
		v := goldencorpus.Verdict{Object: res.Object, Warnings: res.Warnings}
		for _, e := range res.Errors {
			v.Errors = append(v.Errors, e.Error())
		}
		return v, nil
	}
	got, err := goldencorpus.AdmitEach(docs, engine)
	if err != nil {
		t.Fatal(err)
	}
	want, err := manifest.Expand(docs, defaults.DefaultPolicy(), goldencorpus.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	a, err := goldencorpus.Render(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := goldencorpus.Render(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || !strings.Contains(string(a), "# as written") || strings.Count(string(a), "image: rayproject/ray:2.9.0") != 2 {
		t.Errorf("AdmitEach:\n%s\nmanifest.Expand:\n%s", a, b)
	}
	if string(docs[0].Items[0].JSON) != before {
		t.Error("AdmitEach changed its input")
	}
}
