package jsontree

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Walker reads and creates nested JSON values, recording a field error for
// every value of the wrong type instead of panicking.
type Walker struct {
	// Errs are the type errors found so far, in the order found.
	Errs field.ErrorList
}

// Object returns parent[key] as an object. A missing or null value is
// created when create is set; a value of another type is an error.
func (w *Walker) Object(parent Object, key string, fld *field.Path, create bool) Object {
	if parent == nil {
		return nil
	}
	v, ok := parent[key]
	if !ok || v == nil {
		if !create {
			return nil
		}
		m := Object{}
		parent[key] = m
		return m
	}
	m, ok := v.(Object)
	if !ok {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be an object"))
		return nil
	}
	return m
}

// List returns parent[key] as a list; nil (and ok) when missing or null.
func (w *Walker) List(parent Object, key string, fld *field.Path) ([]any, bool) {
	if parent == nil {
		return nil, false
	}
	v, ok := parent[key]
	if !ok || v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	if !ok {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be a list"))
		return nil, false
	}
	return l, true
}

// Str returns parent[key] as a string; "" when missing or of another type
// (then an error is recorded).
func (w *Walker) Str(parent Object, key string, fld *field.Path) string {
	v, ok := parent[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be a string"))
		return ""
	}
	return s
}

// Integer returns parent[key] as an int64; present is false when missing.
func (w *Walker) Integer(parent Object, key string, fld *field.Path) (n int64, present bool) {
	v, ok := parent[key]
	if !ok || v == nil {
		return 0, false
	}
	num, ok := v.(json.Number)
	if !ok {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be an integer"))
		return 0, false
	}
	n, err := num.Int64()
	if err != nil {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be an integer"))
		return 0, false
	}
	return n, true
}

// Boolean returns parent[key] as a bool; false when missing.
func (w *Walker) Boolean(parent Object, key string, fld *field.Path) bool {
	v, ok := parent[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		w.Errs = append(w.Errs, field.Invalid(fld, v, "must be true or false"))
		return false
	}
	return b
}

// StringMap returns parent[key] as a map of strings, recording an error for
// every non-string value; the map itself is returned for in-place edits.
func (w *Walker) StringMap(parent Object, key string, fld *field.Path, create bool) Object {
	m := w.Object(parent, key, fld, create)
	for _, k := range slices.Sorted(maps.Keys(m)) { // errors in a stable order
		v := m[k]
		if _, ok := v.(string); !ok {
			msg := "must be a string"
			switch v.(type) {
			case json.Number, bool:
				msg = fmt.Sprintf("must be a string; quote it: \"%v\"", v)
			}
			w.Errs = append(w.Errs, field.Invalid(fld.Key(k), v, msg))
		}
	}
	return m
}
