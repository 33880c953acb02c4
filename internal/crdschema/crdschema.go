// Package crdschema checks objects the way a kube-apiserver with the KubeRay
// v1.5.0 CRDs installed would, without running one: the CRDs' structural
// schemas from the ray-operator module (the version go.mod pins), pruning,
// schema defaulting, OpenAPI validation, list-type (set/map) validation and
// CEL rules, all with k8s.io/apiextensions-apiserver, the code the apiserver
// itself runs for custom resources. It also carries KubeRay's in-reconcile
// spec validation (ValidateRayClusterSpec), reimplemented because importing
// ray-operator/controllers/ray/utils drags in modules outside the pinned
// stack (gateway-api, KubeRay's feature gates).
//
// It is test support: only tests import it.
package crdschema

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// KubeRayModule is the Go module whose config/crd/bases holds the CRDs.
const KubeRayModule = "github.com/ray-project/kuberay/ray-operator"

// crdFiles maps each kind to its CRD file in the ray-operator module.
var crdFiles = map[string]string{
	"RayCluster": "ray.io_rayclusters.yaml",
	"RayJob":     "ray.io_rayjobs.yaml",
	"RayService": "ray.io_rayservices.yaml",
}

// Validator validates objects of one kind against the schema of its CRD's
// storage version (v1).
type Validator struct {
	// Kind is the CRD's kind, e.g. RayCluster.
	Kind       string
	structural *structuralschema.Structural
	schema     apiextensionsvalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no x-kubernetes-validations
}

// Problems is what an object would meet at the apiserver.
type Problems struct {
	// Pruned lists the paths of fields the apiserver would silently drop
	// (unknown to the CRD schema).
	Pruned []string
	// Errors are schema, list-type, embedded-metadata and CEL errors: the
	// apiserver would reject the object with these.
	Errors field.ErrorList
}

// OK reports whether nothing would be pruned or rejected.
func (p Problems) OK() bool { return len(p.Pruned) == 0 && len(p.Errors) == 0 }

func (p Problems) String() string {
	var b strings.Builder
	for _, path := range p.Pruned {
		fmt.Fprintf(&b, "pruned: %s\n", path)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "invalid: %s\n", e.Error())
	}
	return b.String()
}

var (
	loadOnce   sync.Once
	validators map[string]*Validator
	loadErr    error
)

// For returns the validator of kind (RayCluster, RayJob or RayService),
// loading the three CRDs once per process.
func For(kind string) (*Validator, error) {
	loadOnce.Do(func() { validators, loadErr = loadAll() })
	if loadErr != nil {
		return nil, loadErr
	}
	v, ok := validators[kind]
	if !ok {
		return nil, fmt.Errorf("crdschema: no KubeRay CRD for kind %q", kind)
	}
	return v, nil
}

// CRDDir returns config/crd/bases of the pinned ray-operator module.
func CRDDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", KubeRayModule).Output()
	if err != nil {
		return "", fmt.Errorf("crdschema: go list -m %s: %w", KubeRayModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("crdschema: module %s is not in the module cache (run go mod download)", KubeRayModule)
	}
	return filepath.Join(dir, "config", "crd", "bases"), nil
}

func loadAll() (map[string]*Validator, error) {
	dir, err := CRDDir()
	if err != nil {
		return nil, err
	}
	out := map[string]*Validator{}
	for kind, file := range crdFiles {
		v, err := Load(filepath.Join(dir, file), "v1")
		if err != nil {
			return nil, err
		}
		if v.Kind != kind {
			return nil, fmt.Errorf("crdschema: %s defines %s, want %s", file, v.Kind, kind)
		}
		out[kind] = v
	}
	return out, nil
}

// Load reads a CRD YAML file and builds the validator of one of its versions.
func Load(path, version string) (*Validator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crdschema: %w", err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, fmt.Errorf("crdschema: decode %s: %w", path, err)
	}
	var props *apiextensionsv1.JSONSchemaProps
	for i := range crd.Spec.Versions {
		if v := crd.Spec.Versions[i]; v.Name == version && v.Schema != nil {
			props = v.Schema.OpenAPIV3Schema
		}
	}
	if props == nil {
		return nil, fmt.Errorf("crdschema: %s has no schema for version %s", path, version)
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(props, &internal, nil); err != nil {
		return nil, fmt.Errorf("crdschema: convert %s: %w", path, err)
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("crdschema: %s is not structural: %w", path, err)
	}
	sv, _, err := apiextensionsvalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("crdschema: schema validator for %s: %w", path, err)
	}
	return &Validator{
		Kind:       crd.Spec.Names.Kind,
		structural: structural,
		schema:     sv,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// CheckJSON is Check on a JSON document, decoded as the apiserver decodes
// custom resources (integers as int64).
func (v *Validator) CheckJSON(data []byte) (Problems, error) {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return Problems{}, fmt.Errorf("crdschema: not a JSON object: %w", err)
	}
	return v.Check(obj), nil
}

// Check runs what a CREATE of obj goes through in the apiserver's custom
// resource handler, in its order: pruning (recorded, not an error there, but
// a field the engine wrote and the apiserver drops is lost work), schema
// defaulting, then OpenAPI schema, embedded ObjectMeta, list-type and CEL
// validation. obj is not modified.
func (v *Validator) Check(obj map[string]any) Problems {
	obj = runtime.DeepCopyJSON(obj)
	var p Problems
	p.Pruned = pruning.PruneWithOptions(obj, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	defaulting.Default(obj, v.structural)
	p.Errors = append(p.Errors, apiextensionsvalidation.ValidateCustomResource(nil, obj, v.schema)...)
	p.Errors = append(p.Errors, schemaobjectmeta.Validate(context.Background(), nil, obj, v.structural, false)...)
	p.Errors = append(p.Errors, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	if v.cel != nil {
		errs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		p.Errors = append(p.Errors, errs...)
	}
	return p
}

// Decode returns what the apiserver hands to admission webhooks for a
// CREATE of data: the object pruned to the schema, nulls the schema
// neither allows nor defaults dropped (k8s.io/apiextensions-apiserver:
// pkg/apiserver/customresource_handler.go, unstructuredSchemaCoercer), and
// the schema's defaults applied (the RayCluster CRD defaults replicas,
// minReplicas and maxReplicas, for instance).
func (v *Validator) Decode(data []byte) ([]byte, error) {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("crdschema: not a JSON object: %w", err)
	}
	pruning.Prune(obj, v.structural, true)
	defaulting.PruneNonNullableNullsWithoutDefaults(obj, v.structural)
	defaulting.Default(obj, v.structural)
	return utiljson.Marshal(obj)
}

// UnknownFields returns the fields of obj the CRD schema does not know (the
// ones the apiserver prunes), keyed by JSON pointer (RFC 6901, unambiguous
// whatever the keys hold), with their values. Pruning's own path strings
// join keys with dots, which keys may contain.
func (v *Validator) UnknownFields(obj map[string]any) map[string]any {
	root := *v.structural
	root.XEmbeddedResource = true
	out := map[string]any{}
	unknownFields(obj, &root, "", true, out)
	return out
}

// metaFields are kept at the root and in embedded resources, as pruning does.
var metaFields = map[string]bool{"apiVersion": true, "kind": true, "metadata": true}

func unknownFields(x any, s *structuralschema.Structural, path string, root bool, out map[string]any) {
	if s != nil && s.XPreserveUnknownFields {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			switch {
			case s == nil:
				out[p] = val
			case s.XEmbeddedResource && metaFields[k]:
			case hasProperty(s, k):
				prop := s.Properties[k]
				unknownFields(val, &prop, p, false, out)
			case s.AdditionalProperties != nil:
				unknownFields(val, s.AdditionalProperties.Structural, p, false, out)
			case root && metaFields[k]:
			default:
				out[p] = val
			}
		}
	case []any:
		var items *structuralschema.Structural
		if s != nil {
			items = s.Items
		}
		for i, val := range x {
			unknownFields(val, items, fmt.Sprintf("%s/%d", path, i), false, out)
		}
	}
}

func hasProperty(s *structuralschema.Structural, k string) bool { _, ok := s.Properties[k]; return ok }

// Lookup resolves a JSON pointer (as UnknownFields returns) in obj.
func Lookup(obj any, pointer string) (any, bool) {
	if pointer == "" {
		return obj, true
	}
	unescape := strings.NewReplacer("~1", "/", "~0", "~")
	cur := obj
	for _, tok := range strings.Split(pointer, "/")[1:] {
		tok = unescape.Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
