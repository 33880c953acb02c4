package docs

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRepositoryDocs runs the check on every Markdown file of this
// repository.
func TestRepositoryDocs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := repo.MarkdownFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Markdown files found under %s", root)
	}
	problems, err := repo.CheckAll()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	if len(lines) > 0 {
		t.Errorf("%d broken references in %d Markdown files:\n%s", len(lines), len(files), strings.Join(lines, "\n"))
	}
}
