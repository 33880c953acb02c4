package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// choiceFlag is a string flag that takes one of a fixed set of values.
type choiceFlag struct {
	value   *string
	allowed []string
}

func (f choiceFlag) String() string {
	if f.value == nil {
		return ""
	}
	return *f.value
}

func (f choiceFlag) Set(s string) error {
	for _, a := range f.allowed {
		if s == a {
			*f.value = s
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(f.allowed, " or "))
}

func (f choiceFlag) Type() string { return strings.Join(f.allowed, "|") }

// configMapFlag is a NAMESPACE/NAME flag (empty: unset).
type configMapFlag struct{ ref *types.NamespacedName }

func (f configMapFlag) String() string {
	if f.ref == nil || f.ref.Name == "" {
		return ""
	}
	return f.ref.String()
}

func (f configMapFlag) Set(s string) error {
	if s == "" {
		*f.ref = types.NamespacedName{}
		return nil
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("want NAMESPACE/NAME, got %q", s)
	}
	*f.ref = types.NamespacedName{Namespace: ns, Name: name}
	return nil
}

func (f configMapFlag) Type() string { return "namespace/name" }
