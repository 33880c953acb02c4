package docs

import (
	"regexp"
	"strings"
)

// pathWord is a slash-separated word; what counts as a repository path is
// decided by pathRefs.
var pathWord = regexp.MustCompile(`[A-Za-z0-9_.*\-]+(?:/[A-Za-z0-9_.*\-]*)+`)

// upstreamMarkers name another repository; see the package comment.
var upstreamMarkers = []string{"ray's", "kuberay", "ray:", "ray-project/", "kubernetes'", "kubernetes:", "upstream"}

// upstreamWindow is how many bytes before a path are searched for an
// upstream marker.
const upstreamWindow = 80

// pathRef is one repository path found in a line.
type pathRef struct {
	path string
	// start is the byte offset of the path in the line.
	start int
}

// pathRefs returns the words of s that are repository paths by the
// package comment's rule. code is true for code spans and fenced blocks,
// where every such word counts, not only file-like ones.
func pathRefs(s string, code bool, roots map[string]bool) []pathRef {
	var out []pathRef
	for _, m := range pathWord.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		if start > 0 && strings.IndexByte("/:~$@.\\", s[start-1]) >= 0 {
			continue // part of a URL, an absolute or home path, or a variable
		}
		if end < len(s) && strings.IndexByte("<{$", s[end]) >= 0 {
			continue // a templated path: e2e/<name>_test.go
		}
		p := strings.TrimRight(s[start:end], ".-")
		rel := strings.TrimPrefix(p, "./")
		first, _, _ := strings.Cut(rel, "/")
		if first != ".." && !roots[first] {
			continue
		}
		if !code && !strings.HasPrefix(p, "./") && !fileLike(rel) {
			continue
		}
		out = append(out, pathRef{path: p, start: start})
	}
	return out
}

// fileLike reports whether a word in prose looks like a file path rather
// than a phrase such as "read/write".
func fileLike(p string) bool {
	if strings.HasSuffix(p, "/") || strings.Contains(p, "*") || strings.Count(p, "/") >= 2 {
		return true
	}
	last := p[strings.LastIndexByte(p, '/')+1:]
	dot := strings.LastIndexByte(last, '.')
	return dot > 0 && dot < len(last)-1
}

// upstream reports whether the text before offset start of line names
// another repository.
func upstream(line string, start int) bool {
	before := strings.ToLower(line[max(0, start-upstreamWindow):start])
	for _, m := range upstreamMarkers {
		if strings.Contains(before, m) {
			return true
		}
	}
	return false
}
