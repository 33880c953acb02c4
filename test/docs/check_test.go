package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRepo writes a small repository: a few tracked files, a build
// output directory named by .gitignore, and a Markdown file with headings.
func fixtureRepo(t *testing.T) *Repo {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		".gitignore":                          "/bin/\n*.test\n",
		"bin/out.tar":                         "",
		"scaler/engine/decide.go":             "package engine\n",
		"hack/local-cluster.sh":               "#!/bin/sh\n",
		"charts/raypilot/values.yaml":         "{}\n",
		"defaults/testdata/expand/err-a.yaml": "{}\n",
		"docs/ops.md": "# Operating\n\n" +
			"## KubeRay's in-tree autoscaler still runs (a cluster moved)\n\n" +
			"## Repeated\n\n## Repeated\n\n" +
			"Setext heading\n---\n\n" +
			"```sh\n# not a heading\n```\n\n" +
			"<a name=\"explicit\"></a>\n",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestCheckFile(t *testing.T) {
	repo := fixtureRepo(t)
	cases := []struct {
		name    string
		file    string
		content string
		// want are substrings of the problems expected, in order; none
		// for a document that passes.
		want []string
	}{
		{name: "link to a file", file: "README.md", content: "See [ops](docs/ops.md)."},
		{name: "link to a directory", file: "README.md", content: "See [engine](scaler/engine/)."},
		{name: "link with title", file: "README.md", content: `See [ops](docs/ops.md "Operating").`},
		{name: "link from a subdirectory", file: "docs/x.md", content: "[values](../charts/raypilot/values.yaml)"},
		{name: "root-relative link", file: "docs/x.md", content: "[values](/charts/raypilot/values.yaml)"},
		{name: "reference definition", file: "README.md", content: "[ops]: docs/ops.md"},
		{name: "external links", file: "README.md", content: "[k](https://github.com/ray-project/kuberay) [m](mailto:a@b.c)"},
		{name: "anchor of a heading with punctuation", file: "README.md", content: "[a](docs/ops.md#kuberays-in-tree-autoscaler-still-runs-a-cluster-moved)"},
		{name: "anchor of a repeated heading", file: "README.md", content: "[a](docs/ops.md#repeated-1)"},
		{name: "anchor of a setext heading", file: "README.md", content: "[a](docs/ops.md#setext-heading)"},
		{name: "explicit anchor", file: "README.md", content: "[a](docs/ops.md#explicit)"},
		{name: "anchor in the same file", file: "README.md", content: "# Top\n\n## Two words\n\n[a](#two-words)"},
		{name: "anchor of a non-Markdown file is not checked", file: "README.md", content: "[v](charts/raypilot/values.yaml#L3)"},
		{name: "link in a code span", file: "README.md", content: "Write `[x](nope.md)` like this."},
		{name: "link in a fenced block", file: "README.md", content: "```md\n[x](nope.md)\n```"},
		{name: "path in a code span", file: "README.md", content: "The engine (`scaler/engine/decide.go`) decides."},
		{name: "path in prose", file: "README.md", content: "Run hack/local-cluster.sh."},
		{name: "path relative to the file", file: "charts/raypilot/README.md", content: "`values.yaml`, `../raypilot/values.yaml`"},
		{name: "glob", file: "README.md", content: "Cases `defaults/testdata/expand/err-*.yaml`."},
		{name: "build output named by .gitignore", file: "README.md", content: "`bin/out.tar` and `bin/raypilot-image.tar`"},
		{name: "phrase with a slash", file: "README.md", content: "the scaler/webhook pods"},
		{name: "absolute and home paths", file: "README.md", content: "`/hack/x.yaml`, `~/scaler/x.go`, `$D/scaler/y.go`, https://github.com/o/r/tree/main/hack/x.sh"},
		{name: "templated path", file: "README.md", content: "`docs/ops-<n>.md`, `docs/x{a,b}.md`, `docs/${NAME}.md`"},
		{name: "URL", file: "README.md", content: "https://github.com/raypilot/raypilot/blob/main/scaler/nope.go"},
		{name: "path leaving the repository", file: "docs/x.md", content: "`items: {a: ../../etc/passwd}`"},
		{name: "Ray upstream path", file: "README.md", content: "ray: `python/ray/autoscaler/v2/scheduler.py`, `src/ray/protobuf/autoscaler.proto`"},
		{name: "KubeRay upstream path", file: "README.md", content: "kuberay v1.5.0: ray-operator/controllers/ray/utils/util.go"},
		{name: "upstream path under a local top-level name", file: "README.md", content: "KubeRay's `docs/reference/api.md` and Kubernetes' `hack/update-codegen.sh`"},

		{name: "missing link target", file: "README.md", content: "See [ops](docs/nope.md).", want: []string{"link docs/nope.md: docs/nope.md does not exist"}},
		{name: "missing relative link target", file: "docs/x.md", content: "[b](bad-input.md)", want: []string{"docs/bad-input.md does not exist"}},
		{name: "missing reference definition", file: "README.md", content: "[ops]: docs/nope.md", want: []string{"docs/nope.md does not exist"}},
		{name: "link leaving the repository", file: "docs/x.md", content: "[o](../../outside.md)", want: []string{"leaves the repository"}},
		{name: "missing anchor", file: "README.md", content: "[a](docs/ops.md#nope)", want: []string{"docs/ops.md has no heading with anchor #nope"}},
		{name: "anchor not lowercased", file: "README.md", content: "[a](docs/ops.md#Operating)", want: []string{"#Operating"}},
		{name: "anchor keeping punctuation", file: "README.md", content: "[a](docs/ops.md#kuberay's-in-tree)", want: []string{"#kuberay's-in-tree"}},
		{name: "repeated heading counted once too many", file: "README.md", content: "[a](docs/ops.md#repeated-2)", want: []string{"#repeated-2"}},
		{name: "heading in a fenced block", file: "README.md", content: "[a](docs/ops.md#not-a-heading)", want: []string{"#not-a-heading"}},
		{name: "missing anchor in the same file", file: "README.md", content: "# Top\n\n[a](#bottom)", want: []string{"README.md has no heading with anchor #bottom"}},
		{name: "missing path in a code span", file: "README.md", content: "The engine (`scaler/engine/decide_v2.go`) decides.", want: []string{"scaler/engine/decide_v2.go: no such file"}},
		{name: "missing path in prose", file: "README.md", content: "Run hack/missing.sh first.", want: []string{"hack/missing.sh: no such file"}},
		{name: "missing directory", file: "README.md", content: "See `scaler/actuator/` for the patches.", want: []string{"scaler/actuator/: no such file"}},
		{name: "missing path after ./", file: "README.md", content: "go run ./scaler/cmd", want: []string{"./scaler/cmd: no such file"}},
		{name: "wrong extension", file: "README.md", content: "`charts/raypilot/values.yml`", want: []string{"charts/raypilot/values.yml"}},
		{name: "glob matching nothing", file: "README.md", content: "`defaults/testdata/expand/err-*.json`", want: []string{"err-*.json"}},
		{name: "missing path in a fenced block", file: "README.md", content: "```sh\nkubectl apply -f hack/examples/raycluster.yaml\n```", want: []string{"hack/examples/raycluster.yaml"}},
		{name: "upstream marker too far away", file: "README.md", content: "KubeRay " + strings.Repeat("x", 100) + " `hack/nope.sh`", want: []string{"hack/nope.sh"}},
		{name: "line numbers", file: "README.md", content: "a\n\nb `hack/nope.sh`", want: []string{"hack/nope.sh"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := repo.CheckFile(tc.file, tc.content)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d: %v", len(got), len(tc.want), got)
			}
			for i, p := range got {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p, tc.want[i])
				}
			}
		})
	}
}

func TestProblemLine(t *testing.T) {
	got := fixtureRepo(t).CheckFile("README.md", "a\n\n```\nx\n```\nb `hack/nope.sh`")
	if len(got) != 1 || got[0].Line != 6 || got[0].File != "README.md" {
		t.Fatalf("got %v, want one problem at README.md:6", got)
	}
}

func TestSlug(t *testing.T) {
	cases := map[string]string{
		"KubeRay's in-tree autoscaler still runs (a cluster moved to the scaler)": "kuberays-in-tree-autoscaler-still-runs-a-cluster-moved-to-the-scaler",
		"Policy file empty, half-written or invalid":                              "policy-file-empty-half-written-or-invalid",
		"`raypilot webhook` — flags":                                              "raypilot-webhook--flags",
		"RBAC, verb by verb":                                                      "rbac-verb-by-verb",
		"The real-node tier (`make test-pods`)":                                   "the-real-node-tier-make-test-pods",
		"[Linked](x.md) text_with_underscores":                                    "linked-text_with_underscores",
		"Ray 2.49 to 2.52":                                                        "ray-249-to-252",
	}
	for heading, want := range cases {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestMarkdownFilesSkips(t *testing.T) {
	repo := fixtureRepo(t)
	for _, name := range []string{"bin/x.md", "scaler/testdata/x.md", "vendor/x.md", ".git/x.md", "hack/README.md"} {
		p := filepath.Join(repo.root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := repo.MarkdownFiles()
	if err != nil {
		t.Fatal(err)
	}
	if want := "docs/ops.md hack/README.md"; strings.Join(got, " ") != want {
		t.Fatalf("MarkdownFiles = %v, want %s", got, want)
	}
}
