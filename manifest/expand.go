package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
)

// Output is the result of expanding a set of documents.
type Output struct {
	// Documents are the documents to print, in input order: Ray objects
	// expanded (as JSON in Document.JSON, Text nil), all others unchanged.
	Documents []Document
	// Warnings and Errors are in field-error form, in input order.
	Warnings []string
	Errors   []string
	// Verdicts are the same warnings and errors by Ray object, in input
	// order, so that a caller can name the object of each.
	Verdicts []Verdict
}

// Verdict is what one RayCluster, RayJob or RayService got.
type Verdict struct {
	// Kind and Name are the object's; Namespace is its own or, when it
	// names none, the namespace it was expanded in.
	Kind, Namespace, Name string
	// Source names the file and position, for objects without a name.
	Source string
	// Warnings and Errors are in field-error form.
	Warnings, Errors []string
}

// Expand expands every RayCluster, RayJob and RayService of docs (the
// items of list documents included) with the templates found in docs.
//
// Each object gets the verdict the webhook behind a kube-apiserver with
// the KubeRay CRDs gives it, by the same steps (see crdSchema): the object
// is pruned and defaulted by the CRD schema, expanded by the engine (the
// mutating webhook), decoded and validated by the schema (the API server),
// and checked by the engine again (the validating webhook). What is
// printed is the expansion of the object as written, so fields of newer
// KubeRay versions pass through and the defaults the API server adds on
// apply are not written out.
func Expand(docs []Document, policy *defaults.Policy, namespace string) (*Output, error) {
	set, err := Templates(docs, namespace)
	if err != nil {
		return nil, err
	}
	out := &Output{}
	for _, d := range docs {
		if d.Items == nil {
			out.Documents = append(out.Documents, expandOne(out, d, set, policy, namespace))
			continue
		}
		changed := false
		// A copy: the caller's documents stay as written.
		d.Items = slices.Clone(d.Items)
		for i, it := range d.Items {
			d.Items[i] = expandOne(out, it, set, policy, namespace)
			changed = changed || d.Items[i].Text == nil && defaults.IsExpandable(it.Kind)
		}
		if changed {
			if d, err = RejoinItems(d); err != nil {
				return nil, err
			}
		}
		out.Documents = append(out.Documents, d)
	}
	return out, nil
}

// RejoinItems returns list document d with its JSON's items replaced by
// those of d.Items, as they now are, and no Text (which would still show
// the old items).
func RejoinItems(d Document) (Document, error) {
	var list map[string]json.RawMessage
	if err := json.Unmarshal(d.JSON, &list); err != nil {
		return d, fmt.Errorf("%s: %w", d.Source, err)
	}
	items := make([]json.RawMessage, len(d.Items))
	for i, it := range d.Items {
		items[i] = it.JSON
	}
	var err error
	if list["items"], err = json.Marshal(items); err != nil {
		return d, fmt.Errorf("%s: %w", d.Source, err)
	}
	if d.JSON, err = json.Marshal(list); err != nil {
		return d, fmt.Errorf("%s: %w", d.Source, err)
	}
	d.Text = nil
	return d, nil
}

// expandOne expands d when it is a Ray object, recording its warnings and
// errors in out; any other document is returned unchanged.
func expandOne(out *Output, d Document, set *defaults.TemplateSet, policy *defaults.Policy, namespace string) Document {
	if !defaults.IsExpandable(d.Kind) {
		return d
	}
	ns := d.Namespace
	if ns == "" {
		ns = namespace
	}
	warnings, errs := verdict(d, set, policy, ns)
	if len(errs) == 0 {
		res := defaults.Expand(defaults.Input{Object: d.JSON, Operation: defaults.Create, Namespace: ns, Templates: set, Policy: policy})
		if errs = res.Errors; len(errs) == 0 {
			d.JSON, d.Text = res.Object, nil
		}
	}
	v := Verdict{Kind: d.Kind, Namespace: ns, Name: d.Name, Source: d.Source, Warnings: warnings}
	for _, e := range defaults.BoundErrors(errs) {
		v.Errors = append(v.Errors, e.Error())
	}
	out.Warnings = append(out.Warnings, v.Warnings...)
	out.Errors = append(out.Errors, v.Errors...)
	out.Verdicts = append(out.Verdicts, v)
	return d
}

// verdict is what creating d through the API server with the webhook
// installed answers: the warnings and errors kubectl would print.
func verdict(d Document, set *defaults.TemplateSet, policy *defaults.Policy, ns string) ([]string, field.ErrorList) {
	schema, err := schemaFor(d.Kind)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(field.NewPath("kind"), err)}
	}
	obj, errs := decodeObject(d.JSON)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := schema.admit(obj); len(errs) > 0 {
		return nil, errs
	}
	admitted, err := json.Marshal(obj)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	in := defaults.Input{Object: admitted, Operation: defaults.Create, Namespace: ns, Templates: set, Policy: policy}
	mutated := defaults.Expand(in)
	if len(mutated.Errors) > 0 {
		return mutated.Warnings, mutated.Errors
	}
	if obj, errs = decodeObject(mutated.Object); len(errs) > 0 {
		return nil, errs
	}
	if errs := schema.check(obj, ns); len(errs) > 0 {
		return nil, errs
	}
	final, err := json.Marshal(obj)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	in.Object, in.Output = final, defaults.OutputNone
	validated := defaults.Expand(in)
	return validated.Warnings, validated.Errors
}

// decodeObject decodes a JSON object as the API server decodes custom
// resources (integers as int64).
func decodeObject(data []byte) (map[string]any, field.ErrorList) {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil, field.ErrorList{field.Invalid(nil, "", "not a JSON object: "+err.Error())}
	}
	return obj, nil
}

// YAML renders documents as multi-document YAML; unchanged documents keep
// their original text.
func YAML(docs []Document) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		text := d.Text
		if text == nil {
			var err error
			if text, err = yaml.JSONToYAML(d.JSON); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Source, err)
			}
		}
		buf.Write(bytes.TrimLeft(text, "\n"))
		if !bytes.HasSuffix(text, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes(), nil
}

// JSON renders one document as an indented JSON object, several as a v1 List.
func JSON(docs []Document) ([]byte, error) {
	var v any
	if len(docs) == 1 {
		v = json.RawMessage(docs[0].JSON)
	} else {
		items := make([]json.RawMessage, 0, len(docs))
		for _, d := range docs {
			items = append(items, d.JSON)
		}
		v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
