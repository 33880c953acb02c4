package defaults

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// Bounds on what an expansion reports. Errors quote the values they are
// about, and values come from the object: without bounds a small input
// (YAML aliases repeating one bad volume) produced megabytes of denial.
// Kubernetes bounds what it reports the same ways: field.TooLong and
// field.TooMany (k8s.io/apimachinery/pkg/util/validation/field) leave the
// offending value out of the message altogether, and the API server's
// warning recorder (k8s.io/apiserver/pkg/endpoints/filters/warning.go)
// cuts each warning to 256 runes once they add up to more than 4 KiB.
const (
	// MaxErrorValue bounds the value an error quotes, in bytes (as
	// rendered); a longer one is cut and says how long it was.
	MaxErrorValue = 256
	// MaxErrorDetail bounds an error's detail, in bytes.
	MaxErrorDetail = 1024
	// MaxErrorField bounds an error's field path, in bytes (map keys in
	// paths come from the object).
	MaxErrorField = 512
	// MaxErrors and MaxErrorBytes bound the list: past either, the rest is
	// one line counting what was left out.
	MaxErrors     = 50
	MaxErrorBytes = 16 << 10
	// Warnings are cut as the API server's warning recorder cuts them.
	maxWarningRunes     = 4 << 10
	maxWarningItemRunes = 256
)

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// boundError returns e, or a copy with its value, detail and field cut to
// the bounds.
func boundError(e *field.Error) *field.Error {
	out := *e
	changed := false
	if len(out.Field) > MaxErrorField {
		out.Field, changed = cut(out.Field, MaxErrorField)+"...", true
	}
	if len(out.Detail) > MaxErrorDetail {
		out.Detail, changed = fmt.Sprintf("%s... (%d bytes in all)", cut(out.Detail, MaxErrorDetail), len(out.Detail)), true
	}
	switch out.Type {
	case field.ErrorTypeInvalid, field.ErrorTypeTypeInvalid, field.ErrorTypeNotSupported,
		field.ErrorTypeNotFound, field.ErrorTypeDuplicate, field.ErrorTypeTooMany, field.ErrorTypeTooFew:
		var rendered string
		switch v := out.BadValue.(type) {
		case string:
			rendered = v
		case int64, int32, int, float64, float32, bool, nil, json.Number:
		default:
			if b, err := jsontree.Encode(v); err == nil {
				rendered = string(b)
			} else if b, err := json.Marshal(v); err == nil {
				rendered = string(b)
			}
		}
		if len(rendered) > MaxErrorValue {
			out.BadValue, changed = fmt.Sprintf("%s... (%d bytes in all)", cut(rendered, MaxErrorValue), len(rendered)), true
		}
	}
	if !changed {
		return e
	}
	return &out
}

// boundValues cuts every error's value, detail and field to the bounds.
func boundValues(errs field.ErrorList) field.ErrorList {
	for i, e := range errs {
		errs[i] = boundError(e)
	}
	return errs
}

// BoundErrors bounds errs to MaxErrors errors and MaxErrorBytes of text,
// each error cut by boundError. What is left out becomes one last error
// counting it, on the longest field path the omitted errors share. A
// failed lookup (field.ErrorTypeInternal) is always kept, so Retryable
// answers the same.
func BoundErrors(errs field.ErrorList) field.ErrorList {
	total := 0
	for i, e := range errs {
		e = boundError(e)
		errs[i] = e
		n := len(e.Error()) + 1
		if i < MaxErrors && total+n <= MaxErrorBytes {
			total += n
			continue
		}
		kept := errs[:i:i]
		rest := errs[i:]
		if !Retryable(kept) {
			for j, r := range rest {
				if r.Type == field.ErrorTypeInternal {
					kept = append(kept, boundError(r))
					rest = append(rest[:j:j], rest[j+1:]...)
					break
				}
			}
		}
		return append(kept, &field.Error{
			Type: field.ErrorTypeTooMany, Field: cut(commonField(rest), MaxErrorField), BadValue: len(rest),
			Detail: fmt.Sprintf("more problems not listed (at most %d, or %d bytes, are); fix the ones above and submit again to see the rest", MaxErrors, MaxErrorBytes),
		})
	}
	return errs
}

// commonField is the longest path prefix (whole elements) shared by the
// fields of errs, or the first one's field when they share none.
func commonField(errs field.ErrorList) string {
	prefix := errs[0].Field
	for _, e := range errs[1:] {
		for !strings.HasPrefix(e.Field, prefix) || !pathBoundary(e.Field, len(prefix)) {
			i := strings.LastIndexAny(prefix, ".[")
			if i <= 0 {
				return errs[0].Field
			}
			prefix = prefix[:i]
		}
	}
	return prefix
}

// pathBoundary reports whether a path prefix of length n ends at an element
// boundary of path.
func pathBoundary(path string, n int) bool {
	return n == len(path) || path[n] == '.' || path[n] == '['
}

// boundWarnings does what the API server's warning recorder does with
// warnings, so that `raypilot expand` prints what kubectl would show:
// duplicates dropped, and once they add up to more than 4096 runes, each
// cut to 256 runes and no more added past 4096.
func boundWarnings(ws []string) []string {
	seen := map[string]bool{}
	var out []string
	runes := 0
	for _, w := range ws {
		if w == "" || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		runes += utf8.RuneCountInString(w)
	}
	if runes <= maxWarningRunes {
		return out
	}
	written := 0
	for i, w := range out {
		if written >= maxWarningRunes {
			return out[:i]
		}
		if r := []rune(w); len(r) > maxWarningItemRunes {
			w = string(r[:maxWarningItemRunes])
		}
		out[i] = w
		written += utf8.RuneCountInString(w)
	}
	return out
}
