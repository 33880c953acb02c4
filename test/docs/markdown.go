package docs

import (
	"regexp"
	"strings"
)

// mdLine is one line of a Markdown file as the checks see it.
type mdLine struct {
	// num is the 1-based line number.
	num int
	// text is the line as written.
	text string
	// prose is text with every code span replaced by spaces of the same
	// length, so offsets into prose are offsets into text; empty inside a
	// fenced code block.
	prose string
	// fenced is true for the lines of a fenced code block, fences included.
	fenced bool
}

var fenceOpen = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")

// splitLines splits a Markdown document into lines, marking fenced code
// blocks and masking code spans, which hold no links.
func splitLines(content string) []mdLine {
	raw := strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	lines := make([]mdLine, 0, len(raw))
	fence := ""
	for i, text := range raw {
		l := mdLine{num: i + 1, text: text}
		if fence != "" {
			l.fenced = true
			if m := fenceOpen.FindStringSubmatch(text); m != nil && m[1][0] == fence[0] &&
				len(m[1]) >= len(fence) && strings.TrimSpace(text[len(m[0]):]) == "" {
				fence = ""
			}
		} else if m := fenceOpen.FindStringSubmatch(text); m != nil {
			l.fenced = true
			fence = m[1]
		} else {
			l.prose = maskCodeSpans(text)
		}
		lines = append(lines, l)
	}
	return lines
}

// codeSpans returns the [start, end) byte ranges of the code spans of one
// line, backticks included. A run of backticks opens a span closed by the
// next run of the same length; an unclosed run is literal text.
func codeSpans(s string) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := backtickRun(s, i)
		end := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := backtickRun(s, j)
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			i += n
			continue
		}
		spans = append(spans, [2]int{i, end})
		i = end
	}
	return spans
}

func backtickRun(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

func maskCodeSpans(s string) string {
	b := []byte(s)
	for _, sp := range codeSpans(s) {
		for i := sp[0]; i < sp[1]; i++ {
			b[i] = ' '
		}
	}
	return string(b)
}

// link is one link target found in prose.
type link struct {
	target string
	// start and end delimit the target in the line.
	start, end int
}

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
)

// links returns the link targets of one line's prose.
func links(prose string) []link {
	var out []link
	for _, m := range inlineLink.FindAllStringSubmatchIndex(prose, -1) {
		out = append(out, link{target: strings.Trim(prose[m[2]:m[3]], "<>"), start: m[2], end: m[3]})
	}
	if m := refDef.FindStringSubmatchIndex(prose); m != nil {
		out = append(out, link{target: strings.Trim(prose[m[2]:m[3]], "<>"), start: m[2], end: m[3]})
	}
	return out
}
