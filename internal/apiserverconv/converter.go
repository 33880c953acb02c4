package apiserverconv

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

// converter turns one decoded request into its object, recording problems
// in the reader's errors and warnings.
type converter struct {
	*reader
	// namespace is Options.Namespace.
	namespace string
}

// Labels the KubeRay API server wrote from request fields that have no
// other place in the object (apiserver/pkg/util/config.go).
const (
	labelUser        = "ray.io/user"
	labelEnvironment = "ray.io/environment"
)

func (c *converter) required(fld *field.Path, detail string) {
	c.errs = append(c.errs, field.Required(fld, detail))
}

func (c *converter) warn(fld *field.Path, format string, args ...any) {
	c.warnings = append(c.warnings, fld.String()+": "+fmt.Sprintf(format, args...))
}

// metadata is an object's metadata: name, its namespace (see
// Options.Namespace), labels and annotations.
func (c *converter) metadata(name, namespace string, labels, annotations map[string]string) omap {
	if name == "" {
		c.required(field.NewPath("name"), "the name of the object")
	}
	m := omap{}.with("name", name)
	switch {
	case c.namespace == "":
	case namespace == "":
		namespace = c.namespace
	case namespace != c.namespace:
		c.errs = append(c.errs, field.Invalid(field.NewPath("namespace"), namespace, fmt.Sprintf("does not match --namespace %q; leave out one of them", c.namespace)))
	}
	if namespace != "" {
		m = m.with("namespace", namespace)
	}
	if len(labels) > 0 {
		m = m.with("labels", sortedMap(labels))
	}
	if len(annotations) > 0 {
		m = m.with("annotations", sortedMap(annotations))
	}
	return m
}

// ownerLabels are the labels the API server made of the request's user
// (and a Cluster's environment), kept so that selectors on them still work.
func ownerLabels(user, environment string) map[string]string {
	out := map[string]string{}
	if user != "" {
		out[labelUser] = user
	}
	if environment != "" {
		out[labelEnvironment] = environment
	}
	return out
}

// mergeAnnotations adds the annotations the conversion writes (compact
// references) to the request's own. raypilot reads those keys, so a
// request annotation with such a key is an error naming it, unless its
// value is the one allowed says (nil: the one written), which means what
// the request means.
func (c *converter) mergeAnnotations(own map[string]string, fld *field.Path, written, allowed map[string]string) map[string]string {
	if allowed == nil {
		allowed = written
	}
	out := maps.Clone(own)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range []string{defaults.AnnotationComputeTemplate, defaults.AnnotationVolumes} {
		v, has := own[k]
		if !has || v == allowed[k] {
			continue
		}
		c.errs = append(c.errs, field.Invalid(fld.Key(k), v, fmt.Sprintf(
			"raypilot reads this annotation (%s), where the API server only stored it; remove it", reservedMeaning[k])))
	}
	for _, k := range slices.Sorted(maps.Keys(written)) {
		out[k] = written[k]
	}
	return out
}

var reservedMeaning = map[string]string{
	defaults.AnnotationComputeTemplate: "the compute template to size Ray pods with; the request's computeTemplate fields set it",
	defaults.AnnotationVolumes:         "compact volumes to mount; the request's volumes fields set it",
}
