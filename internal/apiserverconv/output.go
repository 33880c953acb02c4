package apiserverconv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// omap is a JSON object whose keys keep the order they were added in, so
// that the YAML reads like the examples (apiVersion, kind, metadata, spec;
// a group's name before its template). Values are string, bool, int32,
// float32, []any and omap.
type omap []kv

type kv struct {
	key string
	val any
}

// with returns m with key set to val.
func (m omap) with(key string, val any) omap { return append(m, kv{key, val}) }

// sortedMap is a map of strings as an omap sorted by key.
func sortedMap(m map[string]string) omap {
	out := make(omap, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = out.with(k, m[k])
	}
	return out
}

// MarshalJSON writes the keys in order; <, > and & stay as they are (an
// entrypoint such as "python x.py > out" reads as written).
func (m omap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(e.key); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode ends with a newline
		buf.WriteByte(':')
		if err := enc.Encode(jsonValue(e.val)); err != nil {
			return nil, fmt.Errorf("%s: %w", e.key, err)
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// jsonValue makes a float32 print as its shortest decimal.
func jsonValue(v any) any {
	if f, ok := v.(float32); ok {
		return json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32))
	}
	return v
}

// yamlNode builds the YAML node of v; multi-line strings (the compact
// volumes) are literal blocks.
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case omap:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, e := range x {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.key}, yamlNode(e.val))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range x {
			n.Content = append(n.Content, yamlNode(it))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
		if strings.Contains(x, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int32:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(x))}
	case float32:
		// "1.0", not "1", which YAML would read as an integer.
		text := strconv.FormatFloat(float64(x), 'g', -1, 32)
		if !strings.ContainsAny(text, ".eE") {
			text += ".0"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: text}
	}
	panic(fmt.Sprintf("apiserverconv: no YAML form for %T", v)) // a bug in this package
}

// YAML renders objects as multi-document YAML for kubectl apply.
func YAML(objects []Object) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objects {
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		enc.CompactSeqIndent()
		if err := enc.Encode(yamlNode(o.value)); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Source, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Source, err)
		}
	}
	return buf.Bytes(), nil
}

// JSON renders one object as an indented JSON object, several as a v1
// List, as kubectl prints them.
func JSON(objects []Object) ([]byte, error) {
	var v any
	if len(objects) == 1 {
		v = objects[0].value
	} else {
		items := make([]any, 0, len(objects))
		for _, o := range objects {
			items = append(items, o.value)
		}
		v = omap{}.with("apiVersion", "v1").with("kind", "List").with("items", items)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
