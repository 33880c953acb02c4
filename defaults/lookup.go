package defaults

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// lookup finds template name for the cluster's namespace: ComputeTemplate
// ns/name, then API-server ConfigMap ns/name, then ClusterComputeTemplate
// name. It never looks in another namespace.
func (c *clusterExpansion) lookup(name string, fld *field.Path) *Template {
	if t, seen := c.templates[name]; seen {
		return t
	}
	t := c.find(name, fld)
	c.templates[name] = t
	return t
}

func (c *clusterExpansion) find(name string, fld *field.Path) *Template {
	// Object names are DNS subdomains; anything else ("team-b/shared")
	// could address another namespace in a cache keyed "namespace/name".
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		c.errs = append(c.errs, field.Invalid(fld, name, "must be the name of a compute template: "+strings.Join(msgs, "; ")))
		return nil
	}
	src, ns := c.in.Templates, c.namespace
	if t, ok := src.ComputeTemplate(ns, name); ok {
		return t
	}
	withCM := c.in.Policy.ReadsConfigMapTemplates()
	if withCM {
		t, ok, err := src.ConfigMapTemplate(ns, name)
		if ok {
			if err != nil {
				c.errs = append(c.errs, field.Invalid(fld, name, "compute template cannot be read: "+err.Error()))
				return nil
			}
			return t
		}
	}
	if t, ok := src.ClusterComputeTemplate(name); ok {
		return t
	}
	searched := []string{fmt.Sprintf("ComputeTemplate %s/%s", ns, name)}
	if withCM {
		searched = append(searched, fmt.Sprintf("ConfigMap %s/%s labelled ray.io/config-type=compute-template", ns, name))
	}
	searched = append(searched, "ClusterComputeTemplate "+name)
	existing := "none"
	if names := src.Names(ns, withCM); len(names) > 0 {
		existing = strings.Join(names, ", ")
	}
	c.errs = append(c.errs, field.Invalid(fld, name, fmt.Sprintf("compute template not found; searched %s; templates available in namespace %q: %s", strings.Join(searched, ", "), ns, existing)))
	return nil
}
