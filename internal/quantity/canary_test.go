package quantity

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// canaryInputs are quantities the guard refuses, each costly for the pinned
// resource.ParseQuantity (k8s.io/apimachinery v0.37.2,
// pkg/api/resource/quantity.go): it rounds the value to nano scale with
// gopkg.in/inf.v0's Dec.Round, which computes 10 to the power of the
// exponent exactly, and it truncates a 64-bit exponent to 32 bits
// (pkg/api/resource/suffix.go, interpret), so a large positive exponent can
// wrap to a large negative one.
var canaryInputs = []string{
	"1e-3000000",   // 10^3000009 computed exactly
	"1e4291967296", // 2^32 - 3000000: wraps to 1e-3000000
}

// canarySlow is the parse time below which the parser no longer has the
// problem. Measured on a 2-core machine at load averages 5 to 16: 0.25 to
// 1.2 s for each input, while ordinary quantities ("500m", "1e999") take
// about a microsecond. Load only makes the parse slower, so it cannot make
// this test fail.
const canarySlow = 50 * time.Millisecond

// TestRawParserStillSlow fails once the pinned apimachinery parses every
// canary input quickly: then the exponent guard (maxExponentDigits) can go.
func TestRawParserStillSlow(t *testing.T) {
	slow := 0
	for _, in := range canaryInputs {
		if !exponentTooLarge(in) {
			t.Fatalf("%q: the guard does not refuse the canary input", in)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = resource.ParseQuantity(in)
		}()
		select {
		case <-done:
			t.Logf("resource.ParseQuantity(%q) returned in %s", in, time.Since(start))
			continue
		case <-time.After(canarySlow):
			slow++
		}
		// Let the parse finish (under a second unloaded), so that it does
		// not run on beside the next test; give up waiting past a bound.
		select {
		case <-done:
			t.Logf("resource.ParseQuantity(%q) took %s", in, time.Since(start).Round(time.Millisecond))
		case <-time.After(30 * time.Second):
			t.Logf("resource.ParseQuantity(%q) still running after 30 s", in)
		}
	}
	if slow == 0 {
		t.Fatalf("resource.ParseQuantity parses every input in %q within %s: the pinned k8s.io/apimachinery no longer "+
			"expands large exponents; the exponent guard of Parse (maxExponentDigits, exponentTooLarge) can go", canaryInputs, canarySlow)
	}
}
