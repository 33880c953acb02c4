package webhookdoor

import (
	"fmt"

	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/crdschema"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
)

// verdict is what creating d in ns answers, by the steps of the API server
// (k8s.io/apiextensions-apiserver: the custom resource decoder, then the
// strategy's validation) around the webhooks: the body is pruned and
// defaulted by the CRD schema (internal/crdschema), the mutating webhook's
// patch is applied, the result is decoded and validated by the schema and
// as ObjectMeta, then the validating webhook, if registered, judges it. The CRD's defaults
// change what the webhooks judge: a group without replicas gets
// replicas: 0, not its minReplicas.
func (p pair) verdict(d manifest.Document, ns string) (goldencorpus.Verdict, error) {
	var v goldencorpus.Verdict
	crd, err := crdschema.For(d.Kind)
	if err != nil {
		return v, err
	}
	admitted, err := crd.Decode(d.JSON)
	if err != nil {
		return v, err
	}
	mutated, err := review(p.mutate, d, ns, admitted)
	if err != nil {
		return v, fmt.Errorf("mutating webhook: %w", err)
	}
	v.Warnings = append(v.Warnings, mutated.Warnings...)
	if !mutated.Allowed {
		v.Errors = statusErrors(mutated.Result)
		return v, nil
	}
	patched, err := applyPatch(mutated, admitted)
	if err != nil {
		return v, err
	}
	final, errs, err := apiServerCheck(crd, patched, ns)
	if err != nil || len(errs) > 0 {
		v.Errors = errs
		return v, err
	}
	if p.validate == nil {
		return v, nil
	}
	validated, err := review(p.validate, d, ns, final)
	if err != nil {
		return v, fmt.Errorf("validating webhook: %w", err)
	}
	if len(validated.Patch) > 0 {
		return v, fmt.Errorf("validating webhook: returned a patch: %s", validated.Patch)
	}
	v.Warnings = append(v.Warnings, validated.Warnings...)
	if !validated.Allowed {
		v.Errors = statusErrors(validated.Result)
	}
	return v, nil
}

// apiServerCheck decodes the mutated object again and validates it as the
// API server does before the validating webhooks: the CRD schema (with its
// CEL rules), then metadata as any object's. It returns the decoded object
// and the errors as "field: detail" lines.
func apiServerCheck(crd *crdschema.Validator, obj []byte, ns string) ([]byte, []string, error) {
	final, err := crd.Decode(obj)
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(final, &m); err != nil {
		return nil, nil, fmt.Errorf("decode the mutated object: %w", err)
	}
	errs := crd.Check(m).Errors
	var meta metav1.ObjectMeta
	if md, ok := m["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(md, &meta); err != nil {
			return nil, nil, fmt.Errorf("decode the mutated object's metadata: %w", err)
		}
	}
	if meta.Namespace == "" {
		meta.Namespace = ns
	}
	errs = append(errs, metavalidation.ValidateObjectMetaAccessor(&meta, true, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return final, out, nil
}
