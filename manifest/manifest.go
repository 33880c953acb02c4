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

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
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
}

type header struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
}

// Read splits r into documents; empty documents are skipped.
func Read(r io.Reader, source string) ([]Document, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []Document
	for i := 1; ; i++ {
		text, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if len(bytes.TrimSpace(stripComments(text))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(text)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		var h header
		if err := json.Unmarshal(js, &h); err != nil {
			return nil, fmt.Errorf("%s: document %d: must be an object with kind and metadata: %w", source, i, err)
		}
		docs = append(docs, Document{
			Source: fmt.Sprintf("%s: document %d", source, i), Text: text, JSON: js,
			Kind: h.Kind, Name: h.Metadata.Name, Namespace: h.Metadata.Namespace, Labels: h.Metadata.Labels,
		})
	}
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
	for _, d := range docs {
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
