package apiserverconv

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// reader decodes request messages the way the API server's JSON decoder
// (protojson, through grpc-gateway's JSONPb) reads them, but refuses what it
// would have discarded: each field under its JSON name or its proto name,
// null as unset, numbers also as strings, enums by name or number. Every
// problem is recorded with the field's path (JSON names), never a panic.
type reader struct {
	errs     field.ErrorList
	warnings []string
}

// fieldSpec is one field of a message.
type fieldSpec struct {
	// proto and json are the field's two names; json is the one errors use.
	proto, json string
	// read decodes a non-null value.
	read func(r *reader, v any, fld *field.Path)
	// outputOnly marks a status field the API server fills in its
	// responses and ignores in requests.
	outputOnly bool
}

func (f *fieldSpec) named(key string) bool { return key == f.json || key == f.proto }

// message reads v as the message described by fields; what names the
// message in errors.
func (r *reader) message(v any, fld *field.Path, what string, fields []fieldSpec) {
	o, ok := v.(*jsonObject)
	if !ok {
		r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be an object (a "+what+")"))
		return
	}
	given := map[int]string{}
	for _, key := range o.keys {
		i := slices.IndexFunc(fields, func(f fieldSpec) bool { return f.named(key) })
		if i < 0 {
			r.errs = append(r.errs, field.Forbidden(child(fld, key), unknownField(key, what, fields)))
			continue
		}
		f := &fields[i]
		fFld := child(fld, f.json)
		if other, dup := given[i]; dup {
			r.errs = append(r.errs, field.Duplicate(fFld, fmt.Sprintf("given as both %q and %q", other, key)))
			continue
		}
		given[i] = key
		val := o.vals[key]
		switch {
		case val == nil:
		case f.outputOnly:
			r.warnings = append(r.warnings, fmt.Sprintf("%s: ignored: an output-only field of the API server's responses", fFld))
		default:
			f.read(r, val, fFld)
		}
	}
}

// unknownField explains a key that is not a field of the message, with the
// field it most likely meant: the same letters ignoring case, underscores
// and a plural s, else at most two letters apart.
func unknownField(key, what string, fields []fieldSpec) string {
	msg := fmt.Sprintf("unknown field %q: not in the API server's %s, which ignored it; remove it", key, what)
	norm := func(s string) string { return strings.TrimSuffix(strings.ToLower(strings.ReplaceAll(s, "_", "")), "s") }
	best, bestDist := "", 3
	for _, f := range fields {
		if d := editDistance(norm(key), norm(f.json)); d < bestDist {
			best, bestDist = f.json, d
		}
	}
	if best != "" {
		return fmt.Sprintf("%s, or write %q", msg, best)
	}
	return msg
}

// editDistance is the Levenshtein distance of a and b, whose lengths the
// messages' keys bound (the input's size bounds a key).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // no suggestion for such keys; bounded work
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// describe is a JSON value as an error shows it.
func describe(v any) any {
	switch x := v.(type) {
	case *jsonObject:
		return "<object>"
	case []any:
		return "<list>"
	case json.Number:
		// Shown as a number (not a quoted string) when it reads as one.
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	default:
		return x
	}
}

func str(dst *string) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		s, ok := v.(string)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be a string"))
			return
		}
		*dst = s
	}
}

func boolean(dst *bool) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		b, ok := v.(bool)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be true or false"))
			return
		}
		*dst = b
	}
}

// optBool reads a proto3 optional bool, whose presence matters.
func optBool(dst **bool) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		b, ok := v.(bool)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be true or false"))
			return
		}
		*dst = &b
	}
}

// jsonNumber is JSON's number grammar; protojson takes numbers written
// as strings only in this form.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// numberText is v as a number's text: a JSON number or a string holding one.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		return x, jsonNumber.MatchString(x)
	}
	return "", false
}

// integer reads a whole number in [lo, hi]; like protojson it takes 2,
// "2", 2.0 and 2e0.
func integer(v any, fld *field.Path, lo, hi float64, r *reader) (int64, bool) {
	text, ok := numberText(v)
	if !ok {
		r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be a whole number"))
		return 0, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || f < lo || f > hi {
		r.errs = append(r.errs, field.Invalid(fld, describe(v), fmt.Sprintf("must be a whole number from %.0f to %.0f", lo, hi)))
		return 0, false
	}
	return int64(f), true
}

func int32v(dst *int32) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		if n, ok := integer(v, fld, math.MinInt32, math.MaxInt32, r); ok {
			*dst = int32(n)
		}
	}
}

func uint32v(dst *uint32) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		if n, ok := integer(v, fld, 0, math.MaxUint32, r); ok {
			*dst = uint32(n)
		}
	}
}

// float32v reads a finite float; the API server also took "NaN" and
// "Infinity", which no field converted here can mean.
func float32v(dst *float32) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		text, ok := numberText(v)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be a finite number"))
			return
		}
		f, err := strconv.ParseFloat(text, 32)
		if err != nil {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be a finite number within the range of a 32-bit float"))
			return
		}
		*dst = float32(f)
	}
}

// enum reads an enum by name or number into its name; names[0] is the
// proto default, which an unset field also has.
func enum(dst *string, names []string) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		if s, ok := v.(string); ok {
			if slices.Contains(names, s) {
				*dst = s
				return
			}
			r.errs = append(r.errs, field.NotSupported(fld, s, names))
			return
		}
		n, ok := integer(v, fld, math.MinInt32, math.MaxInt32, r)
		if !ok {
			return
		}
		if n < 0 || n >= int64(len(names)) {
			r.errs = append(r.errs, field.NotSupported(fld, n, names))
			return
		}
		*dst = names[n]
	}
}

func stringMap(dst *map[string]string) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		o, ok := v.(*jsonObject)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be an object of strings"))
			return
		}
		m := make(map[string]string, len(o.keys))
		for _, k := range o.keys {
			s, ok := o.vals[k].(string)
			if !ok {
				r.errs = append(r.errs, field.Invalid(fld.Key(k), describe(o.vals[k]), "must be a string"))
				continue
			}
			m[k] = s
		}
		*dst = m
	}
}

func uint32Map(dst *map[string]uint32) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		o, ok := v.(*jsonObject)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be an object of whole numbers"))
			return
		}
		m := make(map[string]uint32, len(o.keys))
		for _, k := range o.keys {
			var n uint32
			uint32v(&n)(r, o.vals[k], fld.Key(k))
			m[k] = n
		}
		*dst = m
	}
}

// list reads a repeated field, each item with item.
func list(item func(r *reader, v any, fld *field.Path)) func(*reader, any, *field.Path) {
	return func(r *reader, v any, fld *field.Path) {
		l, ok := v.([]any)
		if !ok {
			r.errs = append(r.errs, field.Invalid(fld, describe(v), "must be a list"))
			return
		}
		for i, it := range l {
			if it == nil {
				r.errs = append(r.errs, field.Invalid(fld.Index(i), nil, "must not be null"))
				continue
			}
			item(r, it, fld.Index(i))
		}
	}
}

func stringList(dst *[]string) func(*reader, any, *field.Path) {
	return list(func(r *reader, v any, fld *field.Path) {
		var s string
		str(&s)(r, v, fld)
		*dst = append(*dst, s)
	})
}
