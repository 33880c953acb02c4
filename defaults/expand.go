package defaults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// Annotation keys read and written by the engine.
const (
	// AnnotationComputeTemplate names a compute template; on a group's pod
	// template it records the template applied (the KubeRay API server's key).
	AnnotationComputeTemplate = "ray.io/compute-template"
	// AnnotationExpanded is a content hash of the template and policy used.
	AnnotationExpanded = "raypilot.io/expanded"
	// AnnotationAutoscaling records the autoscaling hand-off: "central" or
	// the user's opt-out "disabled".
	AnnotationAutoscaling = "raypilot.io/autoscaling"
	// AnnotationEnableServeService is KubeRay's switch for a RayCluster's
	// serve Service (<cluster>-serve-svc).
	AnnotationEnableServeService = "ray.io/enable-serve-service"
)

// LabelAutoscaling mirrors AnnotationAutoscaling: "central" on the objects
// handed to the central scaler. Annotations cannot be selected on, labels
// can: `kubectl get raycluster -l raypilot.io/autoscaling=central` lists
// the clusters the scaler manages. The expansion only adds it; the scaler
// adds it to managed RayClusters that lack it and removes it from the
// others.
// KubeRay copies a RayJob's and a RayService's labels to the RayCluster it
// creates (kuberay v1.5.0: ray-operator/controllers/ray/rayjob_controller.go,
// constructRayClusterForRayJob; rayservice_controller.go,
// constructRayClusterForRayService).
const LabelAutoscaling = "raypilot.io/autoscaling"

// Operation is the admission operation an expansion is for.
type Operation string

// Operations.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
)

// Input is one expansion request.
type Input struct {
	// Object is the RayCluster, RayJob or RayService as JSON.
	Object []byte
	// Decoded, when set, is Object already decoded by jsontree.Decode
	// (the webhook decodes the whole AdmissionReview once), and Object is
	// not read. The engine edits it in place.
	Decoded any
	// OldObject is the stored object on UPDATE, nil otherwise.
	OldObject []byte
	// Operation defaults to Create.
	Operation Operation
	// Namespace is used when the object carries none.
	Namespace string
	// Templates answers compute-template lookups; nil means none exist.
	Templates TemplateSource
	// Context bounds the template lookups (the admission request's
	// context); nil means context.Background().
	Context context.Context
	// Policy is the cluster-wide policy; nil means DefaultPolicy().
	Policy *Policy
	// Output selects what is built besides errors and warnings.
	Output Output
	// Volumes, when set, keeps parsed raypilot.io/volumes annotations
	// across expansions (the webhook's); nil parses each one.
	Volumes *VolumeCache
	// Hashes, when set, keeps audit hashes across expansions (the
	// webhook's); nil computes each one.
	Hashes *HashCache
}

// Output selects what Expand builds besides Errors and Warnings; each
// caller asks only for what it uses, since encoding dominates the cost.
type Output uint8

// Outputs.
const (
	// OutputObject builds Result.Object and Result.Changed (raypilot expand).
	OutputObject Output = iota
	// OutputPatch builds Result.Patch and Result.Changed (the mutating webhook).
	OutputPatch
	// OutputNone builds neither: validation only (the validating webhook).
	OutputNone
)

// Result is the outcome of Expand.
type Result struct {
	// Object is the expanded JSON (OutputObject); nil when Errors is not empty.
	Object []byte
	// Patch is the JSON patch (RFC 6902) from the input to the expanded
	// object (OutputPatch); "[]" when nothing changed.
	Patch []byte
	// PatchOps is the number of operations in Patch.
	PatchOps int
	// Changed reports whether the expansion differs from the input
	// (OutputObject and OutputPatch).
	Changed bool
	// Tree is the expanded object as a decoded tree (OutputObject and
	// OutputPatch, when Errors is empty), for a caller that checks the
	// result again without decoding it (the single-call webhook). Values
	// may be shared between places of the tree: copy it before editing.
	Tree any
	// Warnings are likely mistakes that do not block admission.
	Warnings []string
	// Errors lists the problems, each naming its field: at most MaxErrors
	// of them and MaxErrorBytes of text, each value cut to MaxErrorValue
	// bytes (BoundErrors), the rest counted in a last error.
	Errors field.ErrorList
}

// Expand expands and validates one object. On UPDATE, a problem the stored
// object already had (a template deleted since, a policy tightened since)
// becomes a warning so that unrelated updates such as replica patches pass.
func Expand(in Input) Result {
	res := expand(in)
	res.Errors = BoundErrors(res.Errors)
	res.Warnings = boundWarnings(res.Warnings)
	return res
}

func expand(in Input) Result {
	if in.Policy == nil {
		in.Policy = DefaultPolicy()
	}
	if in.Templates == nil {
		in.Templates = &TemplateSet{}
	}
	var pristine any
	if in.Decoded != nil && in.Operation == Update && len(in.OldObject) > 0 {
		// The first pass edits Decoded; the lenient one starts again from
		// the input.
		pristine = jsontree.DeepCopy(in.Decoded)
	}
	res := expandData(in, in.Object, in.Decoded, false)
	if len(res.Errors) == 0 || in.Operation != Update || len(in.OldObject) == 0 {
		return res
	}
	prior := expandData(Input{Namespace: in.Namespace, Templates: in.Templates, Context: in.Context, Policy: in.Policy, Operation: Update, OldObject: in.OldObject, Output: OutputNone, Volumes: in.Volumes, Hashes: in.Hashes}, in.OldObject, nil, false)
	had := map[string]bool{}
	for _, e := range prior.Errors {
		had[e.Error()] = true
	}
	var still field.ErrorList
	for _, e := range res.Errors {
		if had[e.Error()] {
			res.Warnings = append(res.Warnings, "unchanged by this update: "+e.Error())
			continue
		}
		still = append(still, e)
	}
	if len(still) > 0 {
		res.Errors = still
		return res
	}
	// Every remaining problem predates the update: expand as far as possible.
	lenient := expandData(in, in.Object, pristine, true)
	lenient.Warnings = res.Warnings
	return lenient
}

// expandData expands doc, or data decoded when doc is nil; lenient
// returns the expanded object even when problems were found (their parts
// are left as they were).
func expandData(in Input, data []byte, doc any, lenient bool) Result {
	var err error
	if doc == nil {
		if doc, err = jsontree.Decode(data); err != nil {
			return Result{Errors: field.ErrorList{field.Invalid(field.NewPath(""), "<body>", "not a JSON object: "+err.Error()).WithOrigin(OriginDecode)}}
		}
	}
	root, ok := doc.(obj)
	if !ok {
		return Result{Errors: field.ErrorList{field.Invalid(field.NewPath(""), "<body>", "must be a JSON object").WithOrigin(OriginDecode)}}
	}
	var before any
	if in.Output != OutputNone {
		before = jsontree.DeepCopy(root) // the engine edits root in place
	}
	e := &expander{in: in, warnings: nil}
	e.root(root)
	e.Errs = dedupe(boundValues(e.Errs))
	if len(e.Errs) > 0 && !lenient {
		return Result{Errors: e.Errs, Warnings: e.warnings}
	}
	res := Result{Warnings: e.warnings}
	if in.Output != OutputNone {
		res.Tree = root
	}
	switch in.Output {
	case OutputObject:
		res.Changed = !jsontree.Equal(before, root)
		res.Object, err = jsontree.Encode(root)
	case OutputPatch:
		res.Patch, res.PatchOps, err = jsontree.Patch(before, root)
		res.Changed = res.PatchOps > 0
	}
	if err != nil {
		return Result{Errors: field.ErrorList{field.InternalError(field.NewPath(""), err)}}
	}
	return res
}

// expander holds the state of one expansion pass.
type expander struct {
	jsontree.Walker
	in       Input
	warnings []string
	// old maps worker group names to the stored object's replicas (UPDATE).
	oldReplicas map[string]any
	// oldAutoscaling is the stored object's raypilot.io/autoscaling (UPDATE).
	oldAutoscaling string
	// volumeBytes is the raypilot.io/volumes text parsed so far.
	volumeBytes int
}

func (e *expander) ctx() context.Context {
	if e.in.Context != nil {
		return e.in.Context
	}
	return context.Background()
}

// Retryable reports whether errs hold a failed lookup (field.ErrorTypeInternal):
// the request was not judged, so it may succeed when sent again.
func Retryable(errs field.ErrorList) bool {
	for _, e := range errs {
		if e.Type == field.ErrorTypeInternal {
			return true
		}
	}
	return false
}

func (e *expander) warn(format string, args ...any) {
	e.warnings = append(e.warnings, fmt.Sprintf(format, args...))
}

// clusterSpecPath is where each kind embeds its RayClusterSpec.
var clusterSpecPath = map[string][]string{
	"RayCluster": {"spec"},
	"RayJob":     {"spec", "rayClusterSpec"},
	"RayService": {"spec", "rayClusterConfig"},
}

// IsExpandable reports whether kind is one the engine expands.
func IsExpandable(kind string) bool { _, ok := clusterSpecPath[kind]; return ok }

func (e *expander) root(root obj) {
	kind, _ := root["kind"].(string)
	specPath, ok := clusterSpecPath[kind]
	if !ok {
		e.Errs = append(e.Errs, field.NotSupported(field.NewPath("kind"), kind, []string{"RayCluster", "RayJob", "RayService"}))
		return
	}
	meta := e.Object(root, "metadata", field.NewPath("metadata"), true)
	if meta == nil {
		return
	}
	ns := e.Str(meta, "namespace", field.NewPath("metadata", "namespace"))
	if ns == "" {
		ns = e.in.Namespace
	}
	annotations := e.StringMap(meta, "annotations", field.NewPath("metadata", "annotations"), false)

	fld := field.NewPath(specPath[0])
	spec := e.Object(root, specPath[0], fld, kind == "RayCluster")
	for _, key := range specPath[1:] {
		fld = fld.Child(key)
		spec = e.Object(spec, key, fld, false)
	}
	if kind == "RayCluster" {
		e.validateClusterName(meta)
	}
	jobSpec, _ := root["spec"].(obj)
	if spec == nil {
		// A RayJob using clusterSelector (or a type error already
		// recorded): only its submitter pod is ours to hold.
		if kind == "RayJob" && jobSpec != nil {
			c := &clusterExpansion{expander: e, namespace: ns, annotations: annotations, meta: meta}
			c.submitter(jobSpec, field.NewPath("spec"))
		}
		return
	}
	if e.in.Operation == Update && e.in.OldObject != nil {
		e.readOld(e.in.OldObject, specPath)
	}
	c := &clusterExpansion{expander: e, namespace: ns, annotations: annotations, spec: spec, fld: fld, meta: meta,
		serve: serveRequirement(kind, root, annotations)}
	c.run()
	if kind == "RayJob" {
		c.submitter(jobSpec, field.NewPath("spec"))
	}
}

// serveRequirement says whether KubeRay builds a serve Service for this
// object, and so needs a head container port named "serve" (KubeRay v1.5.0
// ray-operator/controllers/ray/common/service.go, BuildServeService): every
// RayService without its own spec.serveService, and RayClusters annotated
// ray.io/enable-serve-service: "true".
func serveRequirement(kind string, root, annotations obj) serveNeed {
	switch kind {
	case "RayService":
		spec, _ := root["spec"].(obj)
		if svc, ok := spec["serveService"]; ok && svc != nil {
			return serveOwnService
		}
		return serveRequired
	case "RayCluster":
		if v, _ := annotations[AnnotationEnableServeService].(string); v == "true" {
			return serveRequired
		}
	}
	return serveNone
}

func (e *expander) validateClusterName(meta obj) {
	fld := field.NewPath("metadata", "name")
	name := e.Str(meta, "name", fld)
	if name == "" {
		return // generateName: the server picks a valid name
	}
	if len(name) > 53 {
		e.Errs = append(e.Errs, field.Invalid(fld, name, "must be no more than 53 characters (KubeRay appends suffixes such as -serve-svc)"))
	}
	if msgs := dns1035(name); len(msgs) > 0 {
		e.Errs = append(e.Errs, field.Invalid(fld, name, "must be a DNS-1035 label: "+strings.Join(msgs, "; ")))
	}
}

// readOld reads what an UPDATE keeps from the stored object: each worker
// group's replicas and the autoscaling mode decided at CREATE.
func (e *expander) readOld(data []byte, specPath []string) {
	doc, err := jsontree.Decode(data)
	if err != nil {
		return
	}
	root, _ := doc.(obj)
	meta, _ := root["metadata"].(obj)
	annotations, _ := meta["annotations"].(obj)
	e.oldAutoscaling, _ = annotations[AnnotationAutoscaling].(string)
	cur := root
	for _, k := range specPath {
		cur, _ = cur[k].(obj)
	}
	groups, _ := cur["workerGroupSpecs"].([]any)
	e.oldReplicas = map[string]any{}
	for _, g := range groups {
		gm, _ := g.(obj)
		name, _ := gm["groupName"].(string)
		if r, ok := gm["replicas"]; ok && name != "" {
			e.oldReplicas[name] = r
		}
	}
}

// contentHash is the audit hash of what an expansion used: the template
// and the policy, given as their JSON (tpl nil: no template).
func contentHash(tpl, policyJSON []byte) string {
	if tpl == nil {
		tpl = []byte("null")
	}
	h := sha256.New()
	h.Write([]byte(`{"policy":`))
	h.Write(policyJSON)
	h.Write([]byte(`,"template":`))
	h.Write(tpl)
	h.Write([]byte(`}`))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// dedupe drops repeated errors (a cluster-level reference missing for
// several groups is one problem).
func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
