package webhook

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
)

// Names of the webhook's own metrics (Prometheus' naming: the raypilot_
// namespace, the webhook subsystem, base units, _total on counters).
const (
	MetricAdmissions        = "raypilot_webhook_admissions_total"
	MetricAdmissionDuration = "raypilot_webhook_admission_duration_seconds"
)

// Values of the webhook label.
const (
	webhookMutate   = "mutate"
	webhookValidate = "validate"
)

// Values of the result label.
const (
	resultAllowed = "allowed" // admitted unchanged
	resultPatched = "patched" // admitted with a patch (mutate only)
	resultDenied  = "denied"  // refused: the object is at fault (422)
	resultError   = "error"   // not judged (503, or a panic answered 500)
)

// Values of the reason label besides the engine's origins.
const (
	// reasonInvalidInput: denied for a problem with the object that no
	// origin names (a field of the wrong type, a KubeRay rule).
	reasonInvalidInput = "invalid_input"
	// reasonUnavailable: answered 503 (ServiceUnavailable, retryable): a
	// template lookup failed, or the engine could not build its answer.
	reasonUnavailable = "unavailable"
	// reasonPanic: the handler panicked; controller-runtime answered 500.
	reasonPanic = "panic"
)

// denialOrigins are the engine's origins a denial is counted under, first
// match winning when an object has several problems; any other problem is
// invalid_input.
var denialOrigins = []string{
	defaults.OriginDecode, defaults.OriginTooLarge, defaults.OriginTemplateNotFound,
	defaults.OriginTemplateInvalid, defaults.OriginPolicy,
}

// Metrics counts and times the admissions both handlers answer. Every
// label is bounded: kinds other than the three Ray kinds are "other", and
// reasons are a fixed vocabulary taken from where the engine refused the
// object (defaults.Origin*), never from a message. A nil *Metrics counts
// nothing.
type Metrics struct {
	admissions *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

// NewMetrics registers the admission metrics on reg. Metrics already
// registered there (another webhook server of the same process, as in
// tests) are shared.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	admissions, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricAdmissions,
		Help: "Admission reviews answered, by webhook (mutate, validate), kind (RayCluster, RayJob, RayService, other), " +
			"operation (CREATE, UPDATE, DELETE, CONNECT, other), result (allowed, patched, denied, error) and reason: empty when admitted; " +
			"when denied, decode (not a JSON object), too_large (past a size bound), template_not_found, template_invalid " +
			"(unreadable or in a namespace not watched), policy (a policy limit), invalid_input (anything else); " +
			"on error, unavailable (503: a template lookup failed) or panic.",
	}, []string{"webhook", "kind", "operation", "result", "reason"}))
	if err != nil {
		return nil, err
	}
	duration, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: MetricAdmissionDuration,
		Help: "Time the handler took to answer an admission review (decoding and encoding the review excluded), by webhook and kind.",
		// From a cached expansion (about a millisecond) to the API
		// server's longest webhook timeout (30 s).
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"webhook", "kind"}))
	if err != nil {
		return nil, err
	}
	return &Metrics{admissions: admissions, duration: duration}, nil
}

// register registers c on reg, or returns the collector of the same
// description registered there already.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("register metrics: %w", err)
}

// observe answers req with handle and counts the answer; errs are the
// engine's errors behind it. A panic in handle is counted as an error and
// left to controller-runtime (admission.Webhook.RecoverPanic).
func (m *Metrics) observe(webhook string, req admission.Request, handle func() (admission.Response, field.ErrorList)) admission.Response {
	if m == nil {
		resp, _ := handle()
		return resp
	}
	kind, op := kindLabel(req.Kind.Kind), operationLabel(req.Operation)
	start := time.Now()
	answered := false
	defer func() {
		m.duration.WithLabelValues(webhook, kind).Observe(time.Since(start).Seconds())
		if !answered {
			m.admissions.WithLabelValues(webhook, kind, op, resultError, reasonPanic).Inc()
		}
	}()
	resp, errs := handle()
	answered = true
	result, reason := outcome(resp, errs)
	m.admissions.WithLabelValues(webhook, kind, op, result, reason).Inc()
	return resp
}

// outcome is the result and reason labels of an answer.
func outcome(resp admission.Response, errs field.ErrorList) (result, reason string) {
	switch {
	case resp.Allowed && len(resp.Patch) > 0:
		return resultPatched, ""
	case resp.Allowed:
		return resultAllowed, ""
	case defaults.Retryable(errs):
		return resultError, reasonUnavailable
	}
	for _, o := range denialOrigins {
		for _, e := range errs {
			if e.Origin == o {
				return resultDenied, o
			}
		}
	}
	return resultDenied, reasonInvalidInput
}

func kindLabel(kind string) string {
	if defaults.IsExpandable(kind) {
		return kind
	}
	return "other"
}

func operationLabel(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return string(op)
	}
	return "other"
}
