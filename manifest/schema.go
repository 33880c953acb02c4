package manifest

import (
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
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
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// kuberayCRDs holds the v1 schemas of the KubeRay CRDs of the
// ray-operator module go.mod pins (RayCluster, RayJob, RayService), as
// crdBundle JSON, gzipped. TestEmbeddedCRDsMatchModule checks it against
// the module and rewrites it with -update-crds.
//
//go:embed kuberay-crds.json.gz
var kuberayCRDs []byte

// crdBundle is the content of kuberay-crds.json.gz.
type crdBundle struct {
	// Source is the module (path@version) the schemas come from.
	Source  string `json:"source"`
	Group   string `json:"group"`
	Version string `json:"version"`
	// Schemas maps each kind to the openAPIV3Schema of its CRD's version.
	Schemas map[string]json.RawMessage `json:"schemas"`
}

// crdSchema checks objects of one kind the way a kube-apiserver with the
// KubeRay CRD installed does, with the code it runs for custom resources
// (k8s.io/apiextensions-apiserver): the webhook sees objects only after
// this, and what it lets through is validated by it afterwards, so
// `raypilot expand` runs the same steps to give the same verdict.
type crdSchema struct {
	group, version, kind string
	structural           *structuralschema.Structural
	validator            apiextensionsvalidation.SchemaValidator
	cel                  *cel.Validator
}

var (
	bundleOnce sync.Once
	bundle     crdBundle
	bundleErr  error
	schemaMu   sync.Mutex
	schemas    = map[string]*crdSchema{}
)

// schemaFor returns the checker of kind, built on first use.
func schemaFor(kind string) (*crdSchema, error) {
	bundleOnce.Do(func() {
		var zr *gzip.Reader
		if zr, bundleErr = gzip.NewReader(bytes.NewReader(kuberayCRDs)); bundleErr != nil {
			return
		}
		var data []byte
		if data, bundleErr = io.ReadAll(zr); bundleErr == nil {
			bundleErr = json.Unmarshal(data, &bundle)
		}
	})
	if bundleErr != nil {
		return nil, fmt.Errorf("embedded KubeRay CRD schemas: %w", bundleErr)
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemas[kind]; ok {
		return s, nil
	}
	raw, ok := bundle.Schemas[kind]
	if !ok {
		return nil, fmt.Errorf("no KubeRay CRD schema for kind %q", kind)
	}
	s, err := newCRDSchema(bundle.Group, bundle.Version, kind, raw)
	if err != nil {
		return nil, fmt.Errorf("KubeRay CRD schema of %s (%s): %w", kind, bundle.Source, err)
	}
	schemas[kind] = s
	return s, nil
}

func newCRDSchema(group, version, kind string, raw []byte) (*crdSchema, error) {
	var props apiextensionsv1.JSONSchemaProps
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, err
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(&props, &internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, err
	}
	validator, _, err := apiextensionsvalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	return &crdSchema{group: group, version: version, kind: kind, structural: structural, validator: validator,
		cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}, nil
}

// admit does what the API server does to the body of a CREATE before the
// mutating webhooks see it (the custom resource decoder in
// k8s.io/apiextensions-apiserver/pkg/apiserver, unstructuredSchemaCoercer,
// then the defaulter): metadata must decode as ObjectMeta, unknown fields
// are pruned, nulls where the schema has neither nullable nor a default
// are dropped, and the schema's defaults are applied. obj is changed in
// place.
func (c *crdSchema) admit(obj map[string]any) field.ErrorList {
	if _, _, _, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{}); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), "", "not an object's metadata: "+err.Error())}
	}
	pruning.Prune(obj, c.structural, true)
	defaulting.PruneNonNullableNullsWithoutDefaults(obj, c.structural)
	defaulting.Default(obj, c.structural)
	return nil
}

// check does what the API server does to the object the mutating webhooks
// return before the validating webhooks see it: it decodes it again
// (admit), then validates it as the custom resource strategy does
// (k8s.io/apiextensions-apiserver/pkg/registry/customresource): kind and
// apiVersion, ObjectMeta (as for any object: name, labels, annotations),
// the OpenAPI schema, embedded ObjectMeta, list types and the CRD's CEL
// rules. namespace stands in for the request's when metadata has none.
func (c *crdSchema) check(obj map[string]any, namespace string) field.ErrorList {
	if errs := c.admit(obj); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	if kind, _ := obj["kind"].(string); kind != c.kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), obj["kind"], "must be "+c.kind))
	}
	if av, _ := obj["apiVersion"].(string); av != c.group+"/"+c.version {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), obj["apiVersion"], "must be "+c.group+"/"+c.version))
	}
	if len(errs) > 0 {
		return errs
	}
	meta := &metav1.ObjectMeta{}
	if m, ok := obj["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("metadata"), "", "not an object's metadata: "+err.Error())}
		}
	}
	if meta.Namespace == "" {
		meta.Namespace = namespace
	}
	errs = append(errs, metavalidation.ValidateObjectMetaAccessor(meta, true, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, apiextensionsvalidation.ValidateCustomResource(nil, obj, c.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, obj, c.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, c.structural, obj)...)
	if !blocking(errs) && c.cel != nil {
		celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return namedFields(errs)
}

// blocking is the custom resource strategy's hasBlockingErr: with these,
// the API server does not run the CEL rules.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// formatDetail matches the OpenAPI format check's message, which comes
// without a field ("... with format int32 in spec.x").
var formatDetail = regexp.MustCompile(` in ([A-Za-z0-9_.\[\]-]+)$`)

// namedFields gives every error a field: a format error the schema
// validator reports without one gets the field its message names, and is
// dropped when another error already names that field (the type error it
// repeats).
func namedFields(errs field.ErrorList) field.ErrorList {
	named := map[string]bool{}
	for _, e := range errs {
		if e.Field != "" && e.Field != "<nil>" {
			named[e.Field] = true
		}
	}
	out := errs[:0]
	for _, e := range errs {
		if e.Field == "" || e.Field == "<nil>" {
			if m := formatDetail.FindStringSubmatch(e.Detail); m != nil {
				if named[m[1]] {
					continue
				}
				e.Field = m[1]
			} else {
				e.Field = "<object>"
			}
		}
		out = append(out, e)
	}
	return out
}
