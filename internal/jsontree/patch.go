package jsontree

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Patch returns the RFC 6902 patch that turns before into after, both
// decoded trees, and the number of operations. It diffs the trees the engine
// already holds instead of re-decoding both documents: on the webhook's hot
// path that halves the JSON work. Objects are diffed key by key (sorted, so
// the patch is deterministic); lists element by element with elements
// appended or removed at the end, which is how the engine edits lists
// (it only appends), so the patch stays minimal and never replaces a list a
// user wrote.
func Patch(before, after any) ([]byte, int, error) {
	w := patchWriter{buf: make([]byte, 0, 1024)}
	w.buf = append(w.buf, '[')
	if err := w.diff(before, after); err != nil {
		return nil, 0, err
	}
	w.buf = append(w.buf, ']')
	return w.buf, w.n, nil
}

// Equal reports whether two decoded trees hold the same JSON.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case Object:
		y, ok := b.(Object)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return scalarEqual(a, b)
}

// scalarEqual compares JSON scalars; numbers by their text, as Decode
// keeps them (the engine never rewrites a number it did not create).
func scalarEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	}
	return false
}

type patchWriter struct {
	enc  encoder // reused by every operation's value
	buf  []byte
	n    int
	path []string   // escaped JSON pointer tokens of the current position
	keys [][]string // sorted keys, one reusable slice per depth
}

// sortedKeys returns the keys of m sorted, in a slice reused at this depth.
func (w *patchWriter) sortedKeys(m Object) []string {
	d := len(w.path)
	for len(w.keys) <= d {
		w.keys = append(w.keys, nil)
	}
	ks := w.keys[d][:0]
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	w.keys[d] = ks
	return ks
}

func (w *patchWriter) diff(before, after any) error {
	switch x := before.(type) {
	case Object:
		if y, ok := after.(Object); ok {
			return w.diffObject(x, y)
		}
	case []any:
		if y, ok := after.([]any); ok {
			return w.diffList(x, y)
		}
	default:
		if scalarEqual(before, after) {
			return nil
		}
	}
	return w.op("replace", after)
}

func (w *patchWriter) diffObject(before, after Object) error {
	for _, k := range w.sortedKeys(before) {
		if _, ok := after[k]; !ok {
			w.push(k)
			err := w.op("remove", nil)
			w.pop()
			if err != nil {
				return err
			}
		}
	}
	for _, k := range w.sortedKeys(after) {
		w.push(k)
		var err error
		if old, ok := before[k]; ok {
			err = w.diff(old, after[k])
		} else {
			err = w.op("add", after[k])
		}
		w.pop()
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *patchWriter) diffList(before, after []any) error {
	common := min(len(before), len(after))
	for i := range common {
		w.path = append(w.path, strconv.Itoa(i))
		err := w.diff(before[i], after[i])
		w.pop()
		if err != nil {
			return err
		}
	}
	for i := common; i < len(after); i++ {
		w.path = append(w.path, strconv.Itoa(i))
		err := w.op("add", after[i])
		w.pop()
		if err != nil {
			return err
		}
	}
	for i := len(before) - 1; i >= common; i-- { // from the end: indices stay valid
		w.path = append(w.path, strconv.Itoa(i))
		err := w.op("remove", nil)
		w.pop()
		if err != nil {
			return err
		}
	}
	return nil
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func (w *patchWriter) push(key string) { w.path = append(w.path, pointerEscaper.Replace(key)) }

func (w *patchWriter) pop() { w.path = w.path[:len(w.path)-1] }

// op appends one operation; value is ignored for "remove".
func (w *patchWriter) op(name string, value any) error {
	if w.n > 0 {
		w.buf = append(w.buf, ',')
	}
	w.n++
	w.buf = append(w.buf, `{"op":"`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `","path":"`...)
	for _, t := range w.path {
		w.buf = append(w.buf, '/')
		w.buf = appendJSONStringContent(w.buf, t)
	}
	w.buf = append(w.buf, '"')
	if name != "remove" {
		w.buf = append(w.buf, `,"value":`...)
		var err error
		if w.buf, err = w.enc.append(w.buf, value, 0); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, '}')
	return nil
}
