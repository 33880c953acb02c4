package jsontree

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// Append appends the encoding of a decoded tree (Object, []any, string,
// json.Number, bool, nil) to dst, byte for byte what encoding/json with
// SetEscapeHTML(false) writes: keys sorted, the same string escapes. It is
// the engine's hot path: encoding/json reflects over every map entry, which
// cost a third of an admission's allocations. Other types go to
// encoding/json.
func Append(dst []byte, v any) ([]byte, error) {
	var e encoder
	return e.append(dst, v, 0)
}

// encoder keeps one slice of keys per depth, reused for every object at
// that depth: sorting each object's keys in a slice of its own was most of
// the encoder's allocations. It also remembers where each object that is a
// list element was written: a tree may hold one object in several places
// (the engine adds the same pod volume to every group using it), and such
// an object is copied from its first encoding, not encoded again. Nothing
// edits a tree while it is encoded, so the bytes are the same.
type encoder struct {
	keys [][]string
	seen map[unsafe.Pointer][2]int // list element objects: their span in dst
}

func (e *encoder) append(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendJSONString(dst, x), nil
	case json.Number:
		if x == "" {
			return append(dst, '0'), nil // as encoding/json
		}
		return append(dst, x...), nil
	case Object:
		dst = append(dst, '{')
		for len(e.keys) <= depth {
			e.keys = append(e.keys, nil)
		}
		keys := e.keys[depth][:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.keys[depth] = keys
		var err error
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if dst, err = e.append(dst, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		dst = append(dst, '[')
		var err error
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			m, ok := el.(Object)
			if !ok || len(m) == 0 {
				if dst, err = e.append(dst, el, depth+1); err != nil {
					return nil, err
				}
				continue
			}
			p := reflect.ValueOf(m).UnsafePointer()
			if span, ok := e.seen[p]; ok {
				dst = append(dst, dst[span[0]:span[1]]...)
				continue
			}
			start := len(dst)
			if dst, err = e.append(dst, m, depth+1); err != nil {
				return nil, err
			}
			if e.seen == nil {
				e.seen = map[unsafe.Pointer][2]int{}
			}
			e.seen[p] = [2]int{start, len(dst)}
		}
		return append(dst, ']'), nil
	}
	data, err := encodeTyped(v)
	if err != nil {
		return nil, err
	}
	return append(dst, data...), nil
}

// Encode encodes v compactly without HTML escaping; decoded trees take
// the fast path of Append.
func Encode(v any) ([]byte, error) { return Append(nil, v) }

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

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does without HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringContent(dst, s)
	return append(dst, '"')
}

// appendJSONStringContent appends s escaped, without the quotes.
func appendJSONStringContent(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
