package defaults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// obj is a decoded JSON object. Numbers are json.Number so that values the
// engine does not touch re-encode exactly as they came in.
type obj = map[string]any

// encodeJSON encodes v compactly without HTML escaping; decoded trees take
// the fast path of appendJSON.
func encodeJSON(v any) ([]byte, error) { return appendJSON(nil, v) }

// encodeTyped encodes any other value with encoding/json.
func encodeTyped(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// toJSONValue converts a typed value (a corev1 struct, say) into the generic
// form of decodeJSON, so it can be inserted into an obj.
func toJSONValue(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("defaults: marshal %T: %v", v, err)) // only typed API structs reach here
	}
	out, err := decodeJSON(data)
	if err != nil {
		panic(fmt.Sprintf("defaults: decode %T: %v", v, err))
	}
	return out
}

// walker reads and creates nested JSON values, recording a field error for
// every value of the wrong type instead of panicking.
type walker struct {
	errs field.ErrorList
}

// object returns parent[key] as an object. A missing or null value is
// created when create is set; a value of another type is an error.
func (w *walker) object(parent obj, key string, fld *field.Path, create bool) obj {
	if parent == nil {
		return nil
	}
	v, ok := parent[key]
	if !ok || v == nil {
		if !create {
			return nil
		}
		m := obj{}
		parent[key] = m
		return m
	}
	m, ok := v.(obj)
	if !ok {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be an object"))
		return nil
	}
	return m
}

// list returns parent[key] as a list; nil (and ok) when missing or null.
func (w *walker) list(parent obj, key string, fld *field.Path) ([]any, bool) {
	if parent == nil {
		return nil, false
	}
	v, ok := parent[key]
	if !ok || v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	if !ok {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be a list"))
		return nil, false
	}
	return l, true
}

// str returns parent[key] as a string; "" when missing or of another type
// (then an error is recorded).
func (w *walker) str(parent obj, key string, fld *field.Path) string {
	v, ok := parent[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be a string"))
		return ""
	}
	return s
}

// integer returns parent[key] as an int64; present is false when missing.
func (w *walker) integer(parent obj, key string, fld *field.Path) (n int64, present bool) {
	v, ok := parent[key]
	if !ok || v == nil {
		return 0, false
	}
	num, ok := v.(json.Number)
	if !ok {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be an integer"))
		return 0, false
	}
	n, err := num.Int64()
	if err != nil {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be an integer"))
		return 0, false
	}
	return n, true
}

// boolean returns parent[key] as a bool; false when missing.
func (w *walker) boolean(parent obj, key string, fld *field.Path) bool {
	v, ok := parent[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		w.errs = append(w.errs, field.Invalid(fld, v, "must be true or false"))
		return false
	}
	return b
}

// stringMap returns parent[key] as a map of strings, recording an error for
// every non-string value; the map itself is returned for in-place edits.
func (w *walker) stringMap(parent obj, key string, fld *field.Path, create bool) obj {
	m := w.object(parent, key, fld, create)
	for _, k := range slices.Sorted(maps.Keys(m)) { // errors in a stable order
		v := m[k]
		if _, ok := v.(string); !ok {
			msg := "must be a string"
			switch v.(type) {
			case json.Number, bool:
				msg = fmt.Sprintf("must be a string; quote it: \"%v\"", v)
			}
			w.errs = append(w.errs, field.Invalid(fld.Key(k), v, msg))
		}
	}
	return m
}

// namedIndex returns the index of the element of list whose "name" is name.
func namedIndex(list []any, name string) int {
	for i, v := range list {
		if m, ok := v.(obj); ok && m["name"] == name {
			return i
		}
	}
	return -1
}
