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
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
)

// Paths the handlers are served on.
const (
	MutatePath   = "/mutate-ray-io-v1"
	ValidatePath = "/validate-ray-io-v1"
)

// Handler admits RayCluster, RayJob and RayService requests. The mutating
// handler returns the expansion as a JSON patch; the validating handler
// checks the final object and returns the warnings (only it does, so that
// kubectl prints each warning once).
type Handler struct {
	Mutating  bool
	Templates defaults.TemplateSource
	// Policy returns the current policy (it is reloaded on change).
	Policy func() *defaults.Policy
	Log    *zap.Logger
}

// Handle implements admission.Handler. It has no side effects, so dryRun
// requests are answered exactly like others.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	kind := req.Kind.Kind
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if !defaults.IsExpandable(kind) {
		return admission.Allowed("not a Ray object")
	}
	in := defaults.Input{
		Object:    req.Object.Raw,
		Operation: defaults.Create,
		Namespace: req.Namespace,
		Templates: h.Templates,
		Context:   ctx,
		Policy:    h.Policy(),
		Output:    defaults.OutputNone,
	}
	if h.Mutating {
		in.Output = defaults.OutputPatch
	}
	if req.Operation == admissionv1.Update {
		in.Operation, in.OldObject = defaults.Update, req.OldObject.Raw
	}
	res := defaults.Expand(in)
	log := h.Log.With(zap.String("kind", kind), zap.String("namespace", req.Namespace), zap.String("name", req.Name),
		zap.String("operation", string(req.Operation)), zap.Bool("mutating", h.Mutating), zap.Bool("dryRun", req.DryRun != nil && *req.DryRun))
	if len(res.Errors) > 0 {
		status := apierrors.NewInvalid(schema.GroupKind{Group: req.Kind.Group, Kind: kind}, req.Name, res.Errors)
		if defaults.Retryable(res.Errors) {
			// A failed lookup is not a verdict on the object: answer 503
			// (ServiceUnavailable), which clients treat as retryable.
			log.Warn("not judged: lookup failed", zap.String("error", res.Errors.ToAggregate().Error()))
			status = apierrors.NewServiceUnavailable(res.Errors.ToAggregate().Error())
		} else {
			log.Info("denied", zap.Int("errors", len(res.Errors)), zap.String("first", res.Errors[0].Error()))
		}
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{UID: req.UID, Allowed: false, Result: &status.ErrStatus}}
	}
	if !h.Mutating {
		return admission.Allowed("").WithWarnings(res.Warnings...)
	}
	if !res.Changed {
		return admission.Allowed("")
	}
	log.Debug("expanded", zap.Int("patchOps", res.PatchOps))
	// The engine's own patch, already encoded: Response.Complete only
	// marshals Patches, which stays empty.
	patchType := admissionv1.PatchTypeJSONPatch
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		UID: req.UID, Allowed: true, PatchType: &patchType, Patch: res.Patch,
		Result: &metav1.Status{Code: http.StatusOK},
	}}
}
