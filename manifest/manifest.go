// Package manifest reads multi-document YAML, collects the compute templates
// it holds and expands its Ray objects with the defaults engine: the whole of
// `raypilot expand` except flag parsing and printing.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/yamlguard"
)

// LabelConfigType marks the KubeRay API server's compute-template ConfigMaps.
const LabelConfigType = "ray.io/config-type"

// Document is one YAML or JSON document of an input file.
type Document struct {
	// Source names the file and position, for messages.
	Source string
	// Text is the document as written.
	Text []byte
	// JSON is the document converted to JSON.
	JSON []byte
	// Kind, Name and Namespace come from the document's own fields.
	Kind, Name, Namespace string
	// Labels are the document's metadata.labels.
	Labels map[string]string
	// Items are the objects of a list document (kind List, or any kind
	// ending in List, with an items list), each expanded as a document of
	// its own, as kubectl applies them; nil otherwise.
	Items []Document
}

// MaxDocumentJSON bounds what one document may expand to through YAML
// aliases: the API server's default bound on a request body
// (k8s.io/apiserver/pkg/server, MaxRequestBodyBytes, 3 MiB); no object
// larger than that can be applied.
const MaxDocumentJSON = 3 << 20

// Error is a document that cannot be read: each problem names its field
// (relative to the document) and is printed on a line of its own.
type Error struct {
	// Source names the file and document.
	Source string
	// Errs are the problems; a field-less one is about the document as a whole.
	Errs field.ErrorList
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Errs))
	for _, fe := range defaults.BoundErrors(e.Errs) {
		if fe.Field == "" || fe.Field == "<nil>" {
			lines = append(lines, e.Source+": "+fe.ErrorBody())
		} else {
			lines = append(lines, e.Source+": "+fe.Error())
		}
	}
	return strings.Join(lines, "\n")
}

// Read splits r into documents; empty documents are skipped. Each
// document is checked before it is converted to JSON (internal/yamlguard):
// one YAML document per `---`, no key written twice, no NaN or infinity,
// aliases expanding to at most MaxDocumentJSON, nesting at most
// yamlguard.MaxDepth deep; its kind and metadata must have the types
// Kubernetes gives them.
func Read(r io.Reader, source string) ([]Document, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []Document
	for i := 1; ; i++ {
		text, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		src := fmt.Sprintf("%s: document %d", source, i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if len(bytes.TrimSpace(stripComments(text))) == 0 {
			continue
		}
		rep, err := yamlguard.Check(text, nil, yamlguard.Limits{MaxExpandedBytes: MaxDocumentJSON, MaxDepth: yamlguard.MaxDepth})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if len(rep.Errors) > 0 {
			return nil, &Error{Source: src, Errs: rep.Errors}
		}
		js, err := yaml.YAMLToJSON(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		d, errs := newDocument(src, js, nil)
		if len(errs) > 0 {
			return nil, &Error{Source: src, Errs: errs}
		}
		d.Text = text
		docs = append(docs, d)
	}
}

// newDocument reads the header (kind and metadata) of one object, and the
// items of a list; fld is the object's path within its document (nil for a
// document, items[i] for a list's item).
func newDocument(src string, js []byte, fld *field.Path) (Document, field.ErrorList) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return Document{}, field.ErrorList{field.Invalid(fld, string(js), "not JSON: "+err.Error())}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Document{}, field.ErrorList{field.Invalid(fld, v, "must be an object (a mapping with apiVersion, kind and metadata)")}
	}
	d := Document{Source: src, JSON: js}
	var errs field.ErrorList
	str := func(parent map[string]any, key string, p *field.Path) string {
		switch x := parent[key].(type) {
		case nil:
			return ""
		case string:
			return x
		default:
			errs = append(errs, field.Invalid(p, x, "must be a string"))
			return ""
		}
	}
	d.Kind = str(m, "kind", child(fld, "kind"))
	str(m, "apiVersion", child(fld, "apiVersion"))
	metaFld := child(fld, "metadata")
	switch meta := m["metadata"].(type) {
	case nil:
	case map[string]any:
		d.Name = str(meta, "name", metaFld.Child("name"))
		d.Namespace = str(meta, "namespace", metaFld.Child("namespace"))
		str(meta, "generateName", metaFld.Child("generateName"))
		d.Labels = stringMap(meta, "labels", metaFld.Child("labels"), &errs)
		stringMap(meta, "annotations", metaFld.Child("annotations"), &errs)
		if len(errs) == 0 {
			errs = append(errs, objectMeta(meta, metaFld)...)
		}
	default:
		errs = append(errs, field.Invalid(metaFld, meta, "must be an object"))
	}
	if items, ok := m["items"].([]any); ok && strings.HasSuffix(d.Kind, "List") && fld == nil {
		for i, it := range items {
			ifld := field.NewPath("items").Index(i)
			ijs, err := json.Marshal(it)
			if err != nil {
				errs = append(errs, field.Invalid(ifld, it, err.Error()))
				continue
			}
			item, ierrs := newDocument(fmt.Sprintf("%s: items[%d]", src, i), ijs, ifld)
			errs = append(errs, ierrs...)
			d.Items = append(d.Items, item)
		}
	}
	return d, errs
}

func child(p *field.Path, key string) *field.Path {
	if p == nil {
		return field.NewPath(key)
	}
	return p.Child(key)
}

// stringMap returns parent[key] as a map of strings, recording an error for
// every value of another type.
func stringMap(parent map[string]any, key string, fld *field.Path, errs *field.ErrorList) map[string]string {
	switch x := parent[key].(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]string, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if s, ok := x[k].(string); ok {
				out[k] = s
			} else {
				*errs = append(*errs, field.Invalid(fld.Key(k), x[k], "must be a string"))
			}
		}
		return out
	default:
		*errs = append(*errs, field.Invalid(fld, x, "must be a map of strings"))
		return nil
	}
}

// objectMeta checks the rest of metadata against metav1.ObjectMeta, naming
// the field of a value of the wrong type (the decoder's own message names
// Go types).
func objectMeta(meta map[string]any, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		v := meta[k]
		if v == nil {
			continue
		}
		var want string
		switch k {
		case "uid", "resourceVersion", "selfLink", "creationTimestamp", "deletionTimestamp":
			if _, ok := v.(string); !ok {
				want = "must be a string"
			}
		case "generation", "deletionGracePeriodSeconds":
			if n, ok := v.(json.Number); !ok {
				want = "must be an integer"
			} else if _, err := n.Int64(); err != nil {
				want = "must be an integer"
			}
		case "finalizers":
			l, ok := v.([]any)
			if !ok {
				want = "must be a list of strings"
			}
			for i, f := range l {
				if _, ok := f.(string); !ok {
					errs = append(errs, field.Invalid(fld.Child(k).Index(i), f, "must be a string"))
				}
			}
		case "ownerReferences", "managedFields":
			l, ok := v.([]any)
			if !ok {
				want = "must be a list of objects"
			}
			for i, f := range l {
				if _, ok := f.(map[string]any); !ok {
					errs = append(errs, field.Invalid(fld.Child(k).Index(i), f, "must be an object"))
				}
			}
		}
		if want != "" {
			errs = append(errs, field.Invalid(fld.Child(k), v, want))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	// Whatever is left (a field of an owner reference, say): the
	// decoder's message, on metadata.
	data, _ := json.Marshal(meta)
	var om metav1.ObjectMeta
	if err := json.Unmarshal(data, &om); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return field.ErrorList{field.Invalid(fld.Child(te.Field), te.Value, "must be of type "+jsonType(te.Type))}
		}
		return field.ErrorList{field.Invalid(fld, "", "not an object's metadata")}
	}
	return nil
}

// stripComments drops comment-only lines so that a document holding only
// comments counts as empty.
func stripComments(text []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(text, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || bytes.Equal(t, []byte("---")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// jsonType names the JSON type a Go type decodes from.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "object"
}

// flatten lists docs with the items of list documents in place of the lists.
func flatten(docs []Document) []Document {
	var out []Document
	for _, d := range docs {
		if d.Items != nil {
			out = append(out, flatten(d.Items)...)
			continue
		}
		out = append(out, d)
	}
	return out
}

// IsTemplate reports whether d belongs to the template set.
func (d *Document) IsTemplate() bool {
	switch d.Kind {
	case defaults.KindComputeTemplate, defaults.KindClusterComputeTemplate:
		return true
	case "ConfigMap":
		return d.Labels[LabelConfigType] == "compute-template"
	}
	return false
}

// Templates builds the template set of docs; namespace applies to documents
// that carry none.
func Templates(docs []Document, namespace string) (*defaults.TemplateSet, error) {
	set := &defaults.TemplateSet{}
	for _, d := range flatten(docs) {
		if !d.IsTemplate() {
			continue
		}
		switch d.Kind {
		case defaults.KindComputeTemplate:
			var ct v1alpha1.ComputeTemplate
			if err := strictUnmarshal(d.JSON, &ct); err != nil {
				return nil, fmt.Errorf("%s: ComputeTemplate %s: %w", d.Source, d.Name, err)
			}
			if ct.Namespace == "" {
				ct.Namespace = namespace
			}
			set.AddComputeTemplate(&ct)
		case defaults.KindClusterComputeTemplate:
			var ct v1alpha1.ClusterComputeTemplate
			if err := strictUnmarshal(d.JSON, &ct); err != nil {
				return nil, fmt.Errorf("%s: ClusterComputeTemplate %s: %w", d.Source, d.Name, err)
			}
			set.AddClusterComputeTemplate(&ct)
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := json.Unmarshal(d.JSON, &cm); err != nil {
				return nil, fmt.Errorf("%s: ConfigMap %s: %w", d.Source, d.Name, err)
			}
			ns := cm.Namespace
			if ns == "" {
				ns = namespace
			}
			set.AddConfigMap(ns, cm.Name, cm.Data)
		}
	}
	return set, nil
}

func strictUnmarshal(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
