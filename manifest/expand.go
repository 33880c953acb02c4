package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"

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
}

// Expand expands every RayCluster, RayJob and RayService of docs with the
// templates found in docs.
func Expand(docs []Document, policy *defaults.Policy, namespace string) (*Output, error) {
	set, err := Templates(docs, namespace)
	if err != nil {
		return nil, err
	}
	out := &Output{}
	for _, d := range docs {
		if !defaults.IsExpandable(d.Kind) {
			out.Documents = append(out.Documents, d)
			continue
		}
		ns := d.Namespace
		if ns == "" {
			ns = namespace
		}
		res := defaults.Expand(defaults.Input{Object: d.JSON, Operation: defaults.Create, Namespace: ns, Templates: set, Policy: policy})
		out.Warnings = append(out.Warnings, res.Warnings...)
		for _, e := range res.Errors {
			out.Errors = append(out.Errors, e.Error())
		}
		if len(res.Errors) == 0 {
			d.JSON, d.Text = res.Object, nil
		}
		out.Documents = append(out.Documents, d)
	}
	return out, nil
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
