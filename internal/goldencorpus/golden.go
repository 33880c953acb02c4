package goldencorpus

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/raypilot/raypilot/manifest"
)

// Render is what a golden file holds for out: a "Warning: " line per
// warning, an "Error: " line per error, then, when there is no error,
// "---" and the output documents as `raypilot expand` prints them.
func Render(out *manifest.Output) ([]byte, error) {
	var buf bytes.Buffer
	for _, w := range out.Warnings {
		buf.WriteString("Warning: " + w + "\n")
	}
	for _, e := range out.Errors {
		buf.WriteString("Error: " + e + "\n")
	}
	if len(out.Errors) > 0 {
		return buf.Bytes(), nil
	}
	docs, err := manifest.YAML(out.Documents)
	if err != nil {
		return nil, fmt.Errorf("render the output: %w", err)
	}
	buf.WriteString("---\n")
	buf.Write(docs)
	return buf.Bytes(), nil
}

// Golden is a golden file split into its parts.
type Golden struct {
	Warnings, Errors []string
	// Output is the YAML after the "---" line; nil when there are errors.
	Output []byte
}

// Accepted reports whether the case's objects are admitted.
func (g Golden) Accepted() bool { return len(g.Errors) == 0 && g.Output != nil }

// Parse splits a golden file written by Render.
func Parse(data []byte) (Golden, error) {
	var g Golden
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		switch s := string(line); {
		case s == "---":
			g.Output = rest
			if len(g.Errors) > 0 {
				return g, fmt.Errorf("output after %d errors", len(g.Errors))
			}
			return g, nil
		case strings.HasPrefix(s, "Warning: "):
			g.Warnings = append(g.Warnings, strings.TrimPrefix(s, "Warning: "))
		case strings.HasPrefix(s, "Error: "):
			g.Errors = append(g.Errors, strings.TrimPrefix(s, "Error: "))
		case len(g.Errors) > 0:
			// A message of several lines.
			g.Errors[len(g.Errors)-1] += "\n" + s
		case len(g.Warnings) > 0:
			g.Warnings[len(g.Warnings)-1] += "\n" + s
		default:
			return g, fmt.Errorf("line %q is neither a warning, an error nor ---", s)
		}
		data = rest
	}
	if len(g.Errors) == 0 {
		return g, fmt.Errorf("neither errors nor output")
	}
	return g, nil
}
