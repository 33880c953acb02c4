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

// MutatingHandler admits RayCluster, RayJob and RayService requests by
// returning their expansion as a JSON patch. It returns warnings only with
// a denial: those of an admitted object come from the validating handler,
// so that kubectl prints each warning once.
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
	if !res.Changed {
		return admission.Allowed(""), nil
	}
	log.Debug("expanded", zap.Int("patchOps", res.PatchOps))
	// The engine's own patch, already encoded: Response.Complete only
	// marshals Patches, which stays empty.
	patchType := admissionv1.PatchTypeJSONPatch
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		UID: req.UID, Allowed: true, PatchType: &patchType, Patch: res.Patch,
		Result: &metav1.Status{Code: http.StatusOK},
	}}, nil
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
	in := defaults.Input{
		Object:    req.Object.Raw,
		Operation: defaults.Create,
		Namespace: req.Namespace,
		Templates: c.Templates,
		Context:   ctx,
		Policy:    c.Policy(),
		Output:    output,
		Volumes:   c.Volumes,
	}
	if d, ok := decoded(ctx, req); ok {
		in.Decoded = d.object
	}
	if req.Operation == admissionv1.Update {
		in.Operation, in.OldObject = defaults.Update, req.OldObject.Raw
	}
	res = defaults.Expand(in)
	log = c.Log.With(zap.String("kind", kind), zap.String("namespace", req.Namespace), zap.String("name", req.Name),
		zap.String("operation", string(req.Operation)), zap.Bool("mutating", output == defaults.OutputPatch), zap.Bool("dryRun", req.DryRun != nil && *req.DryRun))
	if len(res.Errors) == 0 {
		return res, log, nil
	}
	if defaults.Retryable(res.Errors) {
		// A failed lookup is not a verdict on the object: answer 503
		// (ServiceUnavailable), which clients treat as retryable.
		log.Warn("not judged: lookup failed", zap.String("error", res.Errors.ToAggregate().Error()))
		status := apierrors.NewServiceUnavailable(res.Errors.ToAggregate().Error())
		return res, log, &admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{UID: req.UID, Allowed: false, Result: &status.ErrStatus}}
	}
	log.Info("denied", zap.Int("errors", len(res.Errors)), zap.String("first", res.Errors[0].Error()))
	status := apierrors.NewInvalid(schema.GroupKind{Group: req.Kind.Group, Kind: kind}, req.Name, res.Errors)
	// The API server passes on a denying webhook's warnings too
	// (k8s.io/apiserver: pkg/admission/plugin/webhook/*/dispatcher.go), and
	// no other handler of ours sees a denied object, so each is printed
	// once, alongside the errors, as `raypilot expand` prints them.
	return res, log, &admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		UID: req.UID, Allowed: false, Result: &status.ErrStatus, Warnings: res.Warnings,
	}}
}
