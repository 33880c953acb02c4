package main

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// namespacesFlag is a comma-separated list of namespace names, as the chart
// renders watchNamespaces (empty: every namespace). Duplicates are dropped.
type namespacesFlag struct{ list *[]string }

func (f namespacesFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f namespacesFlag) Set(s string) error {
	if s == "" {
		*f.list = nil
		return nil
	}
	var out []string
	for _, ns := range strings.Split(s, ",") {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	*f.list = out
	return nil
}

func (f namespacesFlag) Type() string { return "namespaces" }
