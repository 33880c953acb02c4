package defaults

import (
	"reflect"
	"strings"
	"testing"
)

// Every row of the enforceable-field table is complete and names a field
// of PolicyDefaults by its JSON key, so the parser reads the default the
// row fills and enforces.
func TestPolicyFieldsTable(t *testing.T) {
	keys := map[string]bool{}
	typ := reflect.TypeFor[PolicyDefaults]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		keys[name] = true
	}
	seen := map[string]bool{}
	for i, f := range policyFields {
		if f.name == "" || f.set == nil || f.fill == nil || f.enforce == nil {
			t.Errorf("policyFields[%d] %q: name, set, fill and enforce are required", i, f.name)
		}
		if seen[f.name] {
			t.Errorf("policyFields[%d]: %q twice", i, f.name)
		}
		seen[f.name] = true
		if !keys[f.name] {
			t.Errorf("policyFields[%d]: %q is not a JSON key of PolicyDefaults", i, f.name)
		}
		if f.set(&PolicyDefaults{}) {
			t.Errorf("policyFields[%d] %q: an empty PolicyDefaults sets it", i, f.name)
		}
	}
}
