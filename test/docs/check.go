package docs

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Problem is one reference to something that does not exist.
type Problem struct {
	// File is the Markdown file, slash-separated and relative to the
	// repository root.
	File string
	// Line is 1-based.
	Line int
	// Msg says what is missing.
	Msg string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Repo is a repository whose Markdown files are checked.
type Repo struct {
	root string
	// roots are the top-level directories that make a word a repository
	// path.
	roots map[string]bool
	// ignored are the top-level entries the root .gitignore names (build
	// outputs), never walked and never repository paths.
	ignored map[string]bool
	// anchors caches the anchors of each Markdown file read, by path
	// relative to root.
	anchors map[string]map[string]bool
}

// Open reads the top-level layout of the repository at root.
func Open(root string) (*Repo, error) {
	ignored, err := anchoredIgnores(filepath.Join(root, ".gitignore"))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read repository root %s: %w", root, err)
	}
	r := &Repo{root: root, roots: map[string]bool{}, ignored: ignored, anchors: map[string]map[string]bool{}}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !ignored[e.Name()] {
			r.roots[e.Name()] = true
		}
	}
	return r, nil
}

var anchoredEntry = regexp.MustCompile(`^/([^/*?\[!#]+)/?$`)

// anchoredIgnores returns the top-level names that .gitignore lists
// anchored ("/bin/", "/raypilot"); a missing file ignores nothing.
func anchoredIgnores(file string) (map[string]bool, error) {
	out := map[string]bool{}
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := anchoredEntry.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			out[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

// skippedDirs are never walked for Markdown files.
var skippedDirs = map[string]bool{"vendor": true, "testdata": true, "node_modules": true}

// MarkdownFiles returns every *.md file of the repository, relative to its
// root and slash-separated, sorted.
func (r *Repo) MarkdownFiles() ([]string, error) {
	var out []string
	err := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(r.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || skippedDirs[d.Name()] || r.ignored[rel]) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", r.root, err)
	}
	sort.Strings(out)
	return out, nil
}

// CheckAll checks every Markdown file of the repository.
func (r *Repo) CheckAll() ([]Problem, error) {
	files, err := r.MarkdownFiles()
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		out = append(out, r.CheckFile(f, string(content))...)
	}
	return out, nil
}

// CheckFile checks one Markdown document; file is its path relative to the
// repository root, slash-separated.
func (r *Repo) CheckFile(file, content string) []Problem {
	var out []Problem
	report := func(line int, format string, args ...any) {
		out = append(out, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	dir := path.Dir(file)
	own := anchors(content)
	for _, l := range splitLines(content) {
		if l.fenced {
			r.checkPaths(l.text, l.text, 0, true, dir, func(msg string) { report(l.num, "%s", msg) })
			continue
		}
		prose := []byte(l.prose)
		for _, lk := range links(l.prose) {
			if msg := r.checkLink(file, lk.target, own); msg != "" {
				report(l.num, "%s", msg)
			}
			for i := lk.start; i < lk.end; i++ {
				prose[i] = ' '
			}
		}
		r.checkPaths(l.text, string(prose), 0, false, dir, func(msg string) { report(l.num, "%s", msg) })
		for _, sp := range codeSpans(l.text) {
			r.checkPaths(l.text, l.text[sp[0]:sp[1]], sp[0], true, dir, func(msg string) { report(l.num, "%s", msg) })
		}
	}
	return out
}

// checkPaths reports the repository paths in s (at offset off of line)
// that do not exist.
func (r *Repo) checkPaths(line, s string, off int, code bool, dir string, report func(string)) {
	for _, ref := range pathRefs(s, code, r.roots) {
		if r.pathExists(ref.path, dir) || upstream(line, off+ref.start) {
			continue
		}
		report(fmt.Sprintf("%s: no such file or directory in the repository", ref.path))
	}
}

// pathExists reports whether p exists relative to the repository root or
// to dir; "../" paths only relative to dir. A glob must match something.
func (r *Repo) pathExists(p, dir string) bool {
	bases := []string{dir, "."}
	if strings.HasPrefix(p, "../") {
		if j := path.Join(dir, p); j == ".." || strings.HasPrefix(j, "../") {
			return true // outside the repository: not a repository path
		}
		bases = []string{dir}
	}
	for _, base := range bases {
		full := filepath.Join(r.root, filepath.FromSlash(path.Join(base, p)))
		if strings.Contains(p, "*") {
			if m, err := filepath.Glob(full); err == nil && len(m) > 0 {
				return true
			}
			continue
		}
		if _, err := os.Stat(full); err == nil {
			return true
		}
	}
	return false
}

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)

// checkLink returns what is wrong with one link target of file, or "";
// own are the anchors of file itself.
func (r *Repo) checkLink(file, target string, own map[string]bool) string {
	if target == "" || urlScheme.MatchString(target) {
		return ""
	}
	ref, frag, _ := strings.Cut(target, "#")
	if p, err := url.PathUnescape(ref); err == nil {
		ref = p
	}
	dest := file
	if ref != "" {
		if strings.HasPrefix(ref, "/") {
			dest = path.Clean(strings.TrimPrefix(ref, "/"))
		} else {
			dest = path.Join(path.Dir(file), ref)
		}
		if dest == ".." || strings.HasPrefix(dest, "../") {
			return fmt.Sprintf("link %s: leaves the repository", target)
		}
		if _, err := os.Stat(filepath.Join(r.root, filepath.FromSlash(dest))); err != nil {
			return fmt.Sprintf("link %s: %s does not exist", target, dest)
		}
	}
	if frag == "" || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	a := own
	if dest != file {
		var err error
		if a, err = r.anchorsOf(dest); err != nil {
			return fmt.Sprintf("link %s: %v", target, err)
		}
	}
	if !a[frag] {
		return fmt.Sprintf("link %s: %s has no heading with anchor #%s", target, dest, frag)
	}
	return ""
}

func (r *Repo) anchorsOf(file string) (map[string]bool, error) {
	if a, ok := r.anchors[file]; ok {
		return a, nil
	}
	content, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(file)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	a := anchors(string(content))
	r.anchors[file] = a
	return a, nil
}
