// Package yamlguard checks a YAML text before it is converted to JSON, for
// what sigs.k8s.io/yaml (the conversion the API server and kubectl use)
// would do silently or at unbounded cost: a second document dropped, a
// duplicated key folded into one, aliases expanded without a size bound,
// NaN and infinities that JSON cannot carry (the conversion then fails
// naming no field), and nesting deep enough to make indented output
// quadratic.
//
// It parses with go.yaml.in/yaml/v3 into nodes, which keeps aliases as
// references, so every check costs time linear in the text whatever the
// aliases would expand to. The decoders' own alias limits do not bound
// size: go.yaml.in/yaml/v2 (under sigs.k8s.io/yaml) and v3 fail with
// "document contains excessive aliasing" only past 400,000 decoded nodes
// of which 99% come from aliases, and an alias of a long string counts as
// one node, so a few KB of text could still expand to gigabytes.
package yamlguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxDepth is the nesting bound raypilot applies to what it reads. The API
// server's own bound is 10 000 levels (k8s.io/apimachinery/pkg/util/json,
// maxDepth, as encoding/json), which is about stack safety: at that depth
// an indented rendering (`raypilot expand -o json`) writes 2 spaces per
// level on every line, quadratic in the depth (18 KB of brackets became
// 162 MB). No field of the KubeRay v1.5.0 RayCluster, RayJob or RayService
// schemas is deeper than 17 levels, and a CRD document passed through is
// about 40; 100 leaves room for both and bounds the indentation at 200
// bytes a line.
const MaxDepth = 100

// Limits bound what a text may hold. Zero means no bound.
type Limits struct {
	// MaxExpandedBytes bounds the size of the JSON the text converts to,
	// aliases expanded (an estimate: scalars as written, plus quotes and
	// separators).
	MaxExpandedBytes int64
	// MaxDepth bounds nesting (a scalar at the top is depth 0, each list
	// or mapping around it adds one), aliases expanded.
	MaxDepth int
}

// Report is what Check found.
type Report struct {
	// Errors are the problems found, as field errors rooted at Check's root.
	Errors field.ErrorList
	// Items is the number of entries of the document when it is a list,
	// -1 otherwise, so a caller can bound it before any other work.
	Items int
	// top is the document's node; nil for an empty text.
	top *yaml.Node
	// bang is set when the text holds a '!': a node tagged with the
	// non-specific tag "!" looks untagged once parsed.
	bang bool
}

// Check parses text and returns every problem found as a field error
// rooted at root. A text that is not YAML at all gives the parser's error,
// for the caller to word. An empty text (or only comments) is one empty
// document.
func Check(text []byte, root *field.Path, lim Limits) (Report, error) {
	rep := Report{Items: -1}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
		return rep, err
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	rep.top, rep.bang = top, bytes.IndexByte(text, '!') >= 0
	if top.Kind == yaml.SequenceNode {
		rep.Items = len(top.Content)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return rep, err
	case !isEmptyDocument(&second):
		rep.Errors = append(rep.Errors, &field.Error{Type: field.ErrorTypeForbidden, Field: root.String(), Detail: fmt.Sprintf(
			"a second YAML document starts at line %d; only one document is allowed here (the conversion to JSON would drop the rest): remove the `---` line or merge the documents", documentLine(&second))})
	}
	w := walker{lim: lim, memo: map[*yaml.Node]*measure{}}
	w.walk(top, root, 0)
	rep.Errors = append(rep.Errors, w.errs...)
	m := w.measure(top)
	if w.cycle {
		rep.Errors = append(rep.Errors, &field.Error{Type: field.ErrorTypeForbidden, Field: root.String(), Detail: "a YAML alias refers to the node that contains it; write the content out"})
	} else if lim.MaxExpandedBytes > 0 && m.size > lim.MaxExpandedBytes {
		rep.Errors = append(rep.Errors, &field.Error{Type: field.ErrorTypeTooLong, Field: root.String(), BadValue: "", Detail: fmt.Sprintf(
			"its YAML aliases expand to more than %d bytes of JSON (from %d bytes of text); write the content out without aliases, or shorten it", lim.MaxExpandedBytes, len(text))})
	} else if lim.MaxDepth > 0 && m.depth > lim.MaxDepth && !w.deepReported {
		// Only aliases make the expansion deeper than any path walked.
		rep.Errors = append(rep.Errors, &field.Error{Type: field.ErrorTypeForbidden, Field: root.String(), Detail: fmt.Sprintf(
			"its YAML aliases nest more than %d levels deep", lim.MaxDepth)})
	}
	return rep, nil
}

func isEmptyDocument(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return true
		}
		n = n.Content[0]
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && (n.Value == "" || n.Value == "~" || n.Value == "null")
}

func documentLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

// measure is the expanded size and depth of a node.
type measure struct {
	size  int64
	depth int
	busy  bool // being measured: an alias inside refers back to it
}

type walker struct {
	lim          Limits
	memo         map[*yaml.Node]*measure
	errs         field.ErrorList
	cycle        bool
	deepReported bool
}

// identifier keys print as .key, others as [key] (annotations[ray.io/x]).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func child(p *field.Path, key string) *field.Path {
	if identifier.MatchString(key) {
		return p.Child(key)
	}
	return p.Key(key)
}

// walk visits each written node once (an alias is not followed: its
// target is visited where it is written) for duplicate keys, numbers JSON
// cannot carry and nesting.
func (w *walker) walk(n *yaml.Node, p *field.Path, depth int) {
	if w.lim.MaxDepth > 0 && depth > w.lim.MaxDepth {
		if !w.deepReported {
			w.deepReported = true
			w.errs = append(w.errs, &field.Error{Type: field.ErrorTypeForbidden, Field: p.String(), Detail: fmt.Sprintf(
				"nested more than %d levels deep (line %d)", w.lim.MaxDepth, n.Line)})
		}
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!float" {
			var f float64
			if n.Decode(&f) == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				w.errs = append(w.errs, field.Invalid(p, n.Value, fmt.Sprintf(
					"not a number JSON can hold (line %d): NaN and infinities have no JSON form; quote it if you mean the text", n.Line)))
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.walk(c, p.Index(i), depth+1)
		}
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				w.walk(v, p, depth+1)
				continue
			}
			kp := child(p, k.Value)
			if k.Value == "<<" && k.Tag == "!!merge" {
				w.walk(v, p, depth)
				continue
			}
			if line, dup := seen[k.Value]; dup {
				w.errs = append(w.errs, &field.Error{Type: field.ErrorTypeDuplicate, Field: kp.String(), BadValue: k.Value, Detail: fmt.Sprintf(
					"the key is written twice in one mapping (lines %d and %d); the conversion to JSON would keep only one: remove one of them", line, k.Line)})
			} else {
				seen[k.Value] = k.Line
			}
			w.walk(v, kp, depth+1)
		}
	}
}

// measure returns the expanded size and depth of n, each node measured
// once; sizes saturate just above the bound so exponential aliasing cannot
// overflow.
func (w *walker) measure(n *yaml.Node) measure {
	if m, ok := w.memo[n]; ok {
		if m.busy {
			w.cycle = true
			return measure{}
		}
		return *m
	}
	m := &measure{busy: true}
	w.memo[n] = m
	var out measure
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = w.measure(c)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			out = w.measure(n.Alias)
		}
	case yaml.ScalarNode:
		out.size = int64(len(n.Value)) + 2
	case yaml.SequenceNode, yaml.MappingNode:
		out.size = 2
		for _, c := range n.Content {
			cm := w.measure(c)
			out.size = w.add(out.size, cm.size+1)
			out.depth = max(out.depth, cm.depth+1)
		}
	}
	*m = out
	return out
}

func (w *walker) add(a, b int64) int64 {
	limit := w.lim.MaxExpandedBytes
	if limit <= 0 {
		limit = math.MaxInt64 / 4
	}
	if s := a + b; s <= limit {
		return s
	}
	return limit + 1
}
