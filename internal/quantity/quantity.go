// Package quantity parses Kubernetes resource quantities from untrusted
// input without the pathological cases of resource.ParseQuantity.
package quantity

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxLength is the longest quantity string accepted; real quantities are a
// few characters, and parsing cost grows with the digits.
const MaxLength = 64

// maxExponentDigits bounds the decimal exponent ("5e999" at most):
// resource.ParseQuantity computes 10^exponent exactly, so "1e8000000000000"
// keeps a CPU busy for minutes, found by fuzzing a ConfigMap template.
const maxExponentDigits = 3

// ErrTooLarge is returned for quantities outside the bounds above.
var ErrTooLarge = errors.New("quantity too long or exponent too large")

// Parse is resource.ParseQuantity for untrusted input.
func Parse(s string) (resource.Quantity, error) {
	if len(s) > MaxLength || exponentTooLarge(s) {
		return resource.Quantity{}, ErrTooLarge
	}
	return resource.ParseQuantity(s)
}

// exponentTooLarge reports a trailing e/E exponent with more significant
// digits than maxExponentDigits ("5E" alone is the exa suffix).
func exponentTooLarge(s string) bool {
	i := strings.LastIndexAny(s, "eE")
	if i < 0 {
		return false
	}
	exp := strings.TrimLeft(strings.TrimLeft(s[i+1:], "+-"), "0")
	return len(exp) > maxExponentDigits
}
