package docs

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

var (
	atxHeading    = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine    = regexp.MustCompile(`^ {0,3}(?:=+|-+)[ \t]*$`)
	htmlAnchor    = regexp.MustCompile(`<a\s[^>]*\bname="([^"]+)"|\bid="([^"]+)"`)
	headingLink   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	headingTag    = regexp.MustCompile(`<[^>]+>`)
	listOrQuoteRe = regexp.MustCompile(`^\s*(?:[-*+>]|\d+[.)])\s`)
)

// anchors returns the fragment identifiers GitHub gives a Markdown
// document: one per heading (see slug) and one per explicit HTML anchor.
func anchors(content string) map[string]bool {
	lines := splitLines(content)
	out := map[string]bool{}
	seen := map[string]int{}
	add := func(heading string) {
		s := slug(heading)
		n := seen[s]
		seen[s] = n + 1
		if n > 0 {
			s += "-" + strconv.Itoa(n)
		}
		out[s] = true
	}
	for i, l := range lines {
		if l.fenced {
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l.prose, -1) {
			out[m[1]+m[2]] = true
		}
		if m := atxHeading.FindStringSubmatch(l.text); m != nil {
			add(m[1])
			continue
		}
		if i > 0 && setextLine.MatchString(l.text) {
			prev := lines[i-1]
			if !prev.fenced && strings.TrimSpace(prev.text) != "" && !atxHeading.MatchString(prev.text) &&
				!setextLine.MatchString(prev.text) && !listOrQuoteRe.MatchString(prev.text) &&
				!strings.HasPrefix(strings.TrimSpace(prev.text), "|") {
				add(strings.TrimSpace(prev.text))
			}
		}
	}
	return out
}

// slug is GitHub's anchor for a heading: the rendered text lowercased,
// every character but letters, digits, '-', '_' and spaces removed, and
// spaces turned into '-'.
func slug(heading string) string {
	text := headingLink.ReplaceAllString(heading, "$1")
	text = headingTag.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
