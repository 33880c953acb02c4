// Package webhook serves raypilot's mutating and validating admission
// webhooks: thin glue between controller-runtime's webhook server and the
// pure defaults engine.
package webhook

import (
	"context"
	"net/http"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/jsontree"
)

// Paths the handlers are served on.
const (
	MutatePath   = "/mutate-ray-io-v1"
	ValidatePath = "/validate-ray-io-v1"
)

// Config is what both handlers run the engine with.
type Config struct {
	Templates defaults.TemplateSource
	// Policy returns the current policy (it is reloaded on change).
	Policy func() *defaults.Policy
	Log    *zap.Logger
	// Metrics counts the answers; nil counts nothing.
	Metrics *Metrics
	// Volumes keeps parsed raypilot.io/volumes annotations between
	// admissions (NewVolumeCache); nil parses each one.
	Volumes *defaults.VolumeCache
	// Hashes keeps audit hashes by policy and template between admissions
	// (NewHashCache); nil computes each one.
	Hashes *defaults.HashCache
	// SingleCall makes the mutating handler also run the validating
	// handler's checks on its own result, answering as the validating
	// handler would (its errors, its warnings), for an install that
	// registers no validating webhook: one admission call per object
	// instead of two. See docs/operations.md, "Single-call mode".
	SingleCall bool
}

// Bounds of the cache of parsed raypilot.io/volumes annotations: at the
// largest annotation (defaults.MaxVolumesBytes) 16 MiB still holds 32.
const (
	volumeCacheEntries = 1024
	volumeCacheBytes   = 16 << 20
)

// NewVolumeCache is the cache Config.Volumes is given in Run.
func NewVolumeCache() *defaults.VolumeCache {
	return defaults.NewVolumeCache(volumeCacheEntries, volumeCacheBytes)
}

// hashCacheEntries bounds the audit hashes kept: one per template in use
// under the current policy, and a reload's worth of the previous one.
const hashCacheEntries = 1024

// NewHashCache is the cache Config.Hashes is given in Run.
func NewHashCache() *defaults.HashCache { return defaults.NewHashCache(hashCacheEntries) }

// MutatingHandler admits RayCluster, RayJob and RayService requests by
// returning their expansion as a JSON patch. It returns warnings only with
// a denial: those of an admitted object come from the validating handler,
// so that kubectl prints each warning once; with Config.SingleCall it
// returns the validating checks' verdict and warnings itself.
type MutatingHandler struct{ Config }

// ValidatingHandler checks the final (mutated) RayCluster, RayJob or
// RayService and returns the engine's warnings, with its errors if any.
type ValidatingHandler struct{ Config }

var (
	_ admission.Handler = (*MutatingHandler)(nil)
	_ admission.Handler = (*ValidatingHandler)(nil)
)

// Handle implements admission.Handler. It has no side effects, so dryRun
// requests are answered exactly like others.
func (h *MutatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.Metrics.observe(webhookMutate, req, func() (admission.Response, field.ErrorList) { return h.mutate(ctx, req) })
}

// mutate answers req; the errors are the engine's, for the metrics.
func (h *MutatingHandler) mutate(ctx context.Context, req admission.Request) (admission.Response, field.ErrorList) {
	res, log, done := h.expand(ctx, req, defaults.OutputPatch)
	if done != nil {
		return *done, res.Errors
	}
	var warnings []string
	if h.SingleCall {
		checked, done := h.check(ctx, req, res.Tree, log)
		if done != nil {
			return *done, checked.Errors
		}
		warnings = checked.Warnings
	}
	if !res.Changed {
		return admission.Allowed("").WithWarnings(warnings...), nil
	}
	log.Debug("expanded", zap.Int("patchOps", res.PatchOps))
	// The engine's own patch, already encoded: Response.Complete only
	// marshals Patches, which stays empty.
	patchType := admissionv1.PatchTypeJSONPatch
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		UID: req.UID, Allowed: true, PatchType: &patchType, Patch: res.Patch,
		Result: &metav1.Status{Code: http.StatusOK}, Warnings: warnings,
	}}, nil
}

// check runs the validating handler's checks on expanded, the mutating
// pass's result for req, as the validating handler runs them on the object
// the API server sends it. The tree is copied first: the engine edits its
// input in place and the expansion may share values between places, which
// a decoded object never does.
func (c *Config) check(ctx context.Context, req admission.Request, expanded any, log *zap.Logger) (defaults.Result, *admission.Response) {
	in := c.input(ctx, req, defaults.OutputNone)
	in.Decoded = jsontree.DeepCopy(expanded)
	return c.verdict(req, defaults.Expand(in), log)
}

// Handle implements admission.Handler; like the mutating handler's, it
// answers dryRun requests like others.
func (h *ValidatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.Metrics.observe(webhookValidate, req, func() (admission.Response, field.ErrorList) { return h.validate(ctx, req) })
}

// validate answers req; the errors are the engine's, for the metrics.
func (h *ValidatingHandler) validate(ctx context.Context, req admission.Request) (admission.Response, field.ErrorList) {
	res, _, done := h.expand(ctx, req, defaults.OutputNone)
	if done != nil {
		return *done, res.Errors
	}
	return admission.Allowed("").WithWarnings(res.Warnings...), nil
}

// expand runs the engine on req, building output. It returns the final
// response in done when there is nothing to expand or the object is
// denied (or not judged: a failed lookup answers 503), else the result
// and a logger naming the request.
func (c *Config) expand(ctx context.Context, req admission.Request, output defaults.Output) (res defaults.Result, log *zap.Logger, done *admission.Response) {
	kind := req.Kind.Kind
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return res, nil, ptr(admission.Allowed(""))
	}
	if !defaults.IsExpandable(kind) {
		return res, nil, ptr(admission.Allowed("not a Ray object"))
	}
	in := c.input(ctx, req, output)
	if d, ok := decoded(ctx, req); ok {
		in.Decoded = d.object
	}
	res = defaults.Expand(in)
	log = c.Log.With(zap.String("kind", kind), zap.String("namespace", req.Namespace), zap.String("name", req.Name),
		zap.String("operation", string(req.Operation)), zap.Bool("mutating", output == defaults.OutputPatch), zap.Bool("dryRun", req.DryRun != nil && *req.DryRun))
	res, done = c.verdict(req, res, log)
	return res, log, done
}

// input is the engine's input for req's object.
func (c *Config) input(ctx context.Context, req admission.Request, output defaults.Output) defaults.Input {
	in := defaults.Input{
		Object:    req.Object.Raw,
		Operation: defaults.Create,
		Namespace: req.Namespace,
		Templates: c.Templates,
		Context:   ctx,
		Policy:    c.Policy(),
		Output:    output,
		Volumes:   c.Volumes,
		Hashes:    c.Hashes,
	}
	if req.Operation == admissionv1.Update {
		in.Operation, in.OldObject = defaults.Update, req.OldObject.Raw
	}
	return in
}

// verdict is the final response for the engine's result res on req when
// it holds errors (a denial, or 503 for a failed lookup), nil otherwise.
func (c *Config) verdict(req admission.Request, res defaults.Result, log *zap.Logger) (defaults.Result, *admission.Response) {
	kind := req.Kind.Kind
	if len(res.Errors) == 0 {
		return res, nil
	}
	if defaults.Retryable(res.Errors) {
		// A failed lookup is not a verdict on the object: answer 503
		// (ServiceUnavailable), which clients treat as retryable.
		log.Warn("not judged: lookup failed", zap.String("error", res.Errors.ToAggregate().Error()))
		status := apierrors.NewServiceUnavailable(res.Errors.ToAggregate().Error())
		return res, &admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{UID: req.UID, Allowed: false, Result: &status.ErrStatus}}
	}
	log.Info("denied", zap.Int("errors", len(res.Errors)), zap.String("first", res.Errors[0].Error()))
	status := apierrors.NewInvalid(schema.GroupKind{Group: req.Kind.Group, Kind: kind}, req.Name, res.Errors)
	// The API server passes on a denying webhook's warnings too
	// (k8s.io/apiserver: pkg/admission/plugin/webhook/*/dispatcher.go), and
	// no other handler of ours sees a denied object, so each is printed
	// once, alongside the errors, as `raypilot expand` prints them.
	return res, &admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		UID: req.UID, Allowed: false, Result: &status.ErrStatus, Warnings: res.Warnings,
	}}
}
