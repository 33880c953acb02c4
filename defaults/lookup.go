package defaults

import (
	"errors"
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
		c.Errs = append(c.Errs, field.Invalid(fld, name, "must be the name of a compute template: "+strings.Join(msgs, "; ")))
		return nil
	}
	src, ns, ctx := c.in.Templates, c.namespace, c.ctx()
	withCM := c.in.Policy.ReadsConfigMapTemplates()
	searched := []string{fmt.Sprintf("ComputeTemplate %s/%s", ns, name)}
	t, err := src.ComputeTemplate(ctx, ns, name)
	if t == nil && err == nil && withCM {
		searched = append(searched, fmt.Sprintf("ConfigMap %s/%s labelled ray.io/config-type=compute-template", ns, name))
		t, err = src.ConfigMapTemplate(ctx, ns, name)
	}
	if t == nil && err == nil {
		searched = append(searched, "ClusterComputeTemplate "+name)
		t, err = src.ClusterComputeTemplate(ctx, name)
	}
	if err != nil {
		c.lookupFailed(fld, name, err)
		return nil
	}
	if t != nil {
		return t
	}
	existing := "none"
	names, err := src.Names(ctx, ns, withCM)
	if err != nil {
		existing = "unknown (" + err.Error() + ")"
	} else if len(names) > 0 {
		existing = strings.Join(names, ", ")
	}
	c.Errs = append(c.Errs, field.Invalid(fld, name, fmt.Sprintf("compute template not found; searched %s; templates available in namespace %q: %s", strings.Join(searched, ", "), ns, existing)).WithOrigin(OriginTemplateNotFound))
	return nil
}

// lookupFailed records a template that exists but is unreadable as the
// user's error, and a failed lookup as an internal one: the answer is
// unknown, so the webhook reports it as retryable instead of "not found".
func (c *clusterExpansion) lookupFailed(fld *field.Path, name string, err error) {
	var invalid *InvalidTemplateError
	if errors.As(err, &invalid) {
		c.Errs = append(c.Errs, field.Invalid(fld, name, "compute template cannot be read: "+invalid.Error()).WithOrigin(OriginTemplateInvalid))
		return
	}
	c.Errs = append(c.Errs, field.InternalError(fld, fmt.Errorf("compute template %q could not be looked up (%w); nothing was changed, retry the request", name, err)))
}
