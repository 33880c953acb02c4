package apiserverconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxInputBytes bounds one input, which is decoded whole: room for a few
// thousand requests (a cluster request is a few KB).
const MaxInputBytes = 32 << 20

// MaxRequestBytes bounds one request: the Kubernetes API server's bound on
// a request body (k8s.io/apiserver/pkg/server, MaxRequestBodyBytes,
// 3 MiB). The KubeRay API server took larger ones (apiserver/cmd/main.go,
// grpc.MaxRecvMsgSize(math.MaxInt32)), but their objects, about as large,
// could not be created.
const MaxRequestBytes = 3 << 20

// MaxDepth bounds the nesting of a request. The deepest field of any
// request (clusterSpec.workerGroupSpec[i].environment.valuesFrom[k].source)
// is 7 levels down; 32 leaves room for the wrong shapes the errors name.
const MaxDepth = 32

// jsonObject is a JSON object with its keys in the order written; a key
// written twice is refused while decoding.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// rawObject is one top-level request object of an input, with its place.
type rawObject struct {
	source string
	obj    *jsonObject
}

// splitObjects decodes an input holding one JSON object, a JSON array of
// objects, or several of either one after another. Values are *jsonObject,
// []any, string, json.Number, bool and nil. It stops at the first syntax
// error: nothing after it can be read reliably.
func splitObjects(source string, data []byte) ([]rawObject, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("%s: more than %d bytes; split it into several files", source, MaxInputBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not valid UTF-8 at byte %d (the API server refused such requests)", source, firstInvalidUTF8(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []rawObject
	next := func() string { return fmt.Sprintf("%s: object %d", source, len(out)+1) }
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not JSON: %w", next(), err)
		}
		switch tok {
		case json.Delim('{'):
			src := next()
			o, err := decodeRequest(dec, 1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			out = append(out, rawObject{source: src, obj: o})
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				src := next()
				t, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%s: not JSON: %w", src, err)
				}
				if t != json.Delim('{') {
					return nil, fmt.Errorf("%s: item %d of a list: must be a request object, not %s", src, i, describeToken(t))
				}
				o, err := decodeRequest(dec, 2)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", src, err)
				}
				out = append(out, rawObject{source: src, obj: o})
			}
			if _, err := dec.Token(); err != nil { // ]
				return nil, fmt.Errorf("%s: not JSON: %w", next(), err)
			}
		default:
			return nil, fmt.Errorf("%s: must be a request object, or a list of them, not %s", next(), describeToken(tok))
		}
	}
}

// decodeRequest reads a request object whose '{' was read, at most
// MaxRequestBytes of it.
func decodeRequest(dec *json.Decoder, depth int) (*jsonObject, error) {
	start := dec.InputOffset() - 1
	o, err := decodeObject(dec, nil, depth)
	if err != nil {
		return nil, err
	}
	if n := dec.InputOffset() - start; n > MaxRequestBytes {
		return nil, fmt.Errorf("%d bytes: more than the %d bytes a Kubernetes request may have, so its object could not be created", n, MaxRequestBytes)
	}
	return o, nil
}

// decodeObject reads the members of an object whose '{' was read.
func decodeObject(dec *json.Decoder, fld *field.Path, depth int) (*jsonObject, error) {
	o := &jsonObject{vals: map[string]any{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(fld, err)
		}
		key, _ := tok.(string) // the decoder accepts only strings as keys
		kf := child(fld, key)
		if _, dup := o.vals[key]; dup {
			return nil, fmt.Errorf("%s: written twice; keep one", kf)
		}
		v, err := decodeValue(dec, kf, depth)
		if err != nil {
			return nil, err
		}
		o.keys = append(o.keys, key)
		o.vals[key] = v
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, syntaxError(fld, err)
	}
	return o, nil
}

func decodeValue(dec *json.Decoder, fld *field.Path, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(fld, err)
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return tok, nil
	}
	if depth >= MaxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d levels; no API server request is", fld, MaxDepth)
	}
	if d == '{' {
		return decodeObject(dec, fld, depth+1)
	}
	var list []any
	for i := 0; dec.More(); i++ {
		v, err := decodeValue(dec, fld.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	if _, err := dec.Token(); err != nil { // ]
		return nil, syntaxError(fld, err)
	}
	if list == nil {
		list = []any{}
	}
	return list, nil
}

func syntaxError(fld *field.Path, err error) error {
	where := "the request"
	if fld != nil {
		where = fld.String()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: not JSON: the input ends inside it", where)
	}
	return fmt.Errorf("%s: not JSON: %w", where, err)
}

// child is fld.Child(key), or the root field key. A key that is not a
// plain name (empty, or with dots, brackets, spaces) is quoted, so that the
// path still names one field.
func child(fld *field.Path, key string) *field.Path {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if fld == nil {
		return field.NewPath(key)
	}
	return fld.Child(key)
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func describeToken(t json.Token) string {
	switch x := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(x))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", t)
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}
