package jsontree

import (
	"bytes"
	"encoding/json"
	"testing"
)

// An object held in several places of a tree encodes, and patches, to the
// bytes of a tree holding copies of it.
func TestSharedObjectsEncodeAsCopies(t *testing.T) {
	vol := Object{"name": "v", "configMap": Object{"name": "cm", "items": []any{Object{"key": "a", "path": "a"}}}}
	empty := Object{}
	after := Object{
		"a":    []any{vol, "x", vol, empty, empty},
		"b":    Object{"list": []any{json.Number("1"), vol}},
		"keep": "same",
	}
	before := Object{"b": Object{"list": []any{json.Number("1")}}, "keep": "same"}
	copied := DeepCopy(after)

	got, err := Encode(after)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Encode(copied)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("shared:\n%s\ncopies:\n%s", got, want)
	}
	// The check above compares the encoder with itself: hold it to
	// encoding/json too.
	std, err := json.Marshal(copied)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, std) {
		t.Fatalf("shared:\n%s\nencoding/json:\n%s", got, std)
	}

	gotPatch, n, err := Patch(DeepCopy(before), after)
	if err != nil {
		t.Fatal(err)
	}
	wantPatch, m, err := Patch(DeepCopy(before), copied)
	if err != nil {
		t.Fatal(err)
	}
	if n != m || !bytes.Equal(gotPatch, wantPatch) {
		t.Fatalf("patch with shared objects:\n%s\nwith copies:\n%s", gotPatch, wantPatch)
	}
}
