package jsontree

import (
	"encoding/json"
	"fmt"
)

// Object is a decoded JSON object. Numbers are json.Number so that values a
// caller does not touch re-encode exactly as they came in.
type Object = map[string]any

// FromTyped converts a typed value (a corev1 struct, say) into the generic
// form of Decode, so it can be inserted into an Object.
func FromTyped(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("jsontree: marshal %T: %v", v, err)) // only typed API structs reach here
	}
	out, err := Decode(data)
	if err != nil {
		panic(fmt.Sprintf("jsontree: decode %T: %v", v, err))
	}
	return out
}

// DeepCopy copies a decoded JSON value, so no two places of a document
// share a map or slice.
func DeepCopy(v any) any {
	switch x := v.(type) {
	case Object:
		out := make(Object, len(x))
		for k, e := range x {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = DeepCopy(e)
		}
		return out
	}
	return v
}

// NamedIndex returns the index of the element of list whose "name" is name.
func NamedIndex(list []any, name string) int {
	for i, v := range list {
		if m, ok := v.(Object); ok && m["name"] == name {
			return i
		}
	}
	return -1
}
