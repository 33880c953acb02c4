package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/defaults"
)

// invalidSource finds every compute template unusable, as a namespace the
// webhook does not watch.
type invalidSource struct{ *defaults.TemplateSet }

func (invalidSource) ComputeTemplate(context.Context, string, string) (*defaults.Template, error) {
	return nil, &defaults.InvalidTemplateError{Err: errors.New("not watched")}
}

// panickingSource panics on every lookup.
type panickingSource struct{ *defaults.TemplateSet }

func (panickingSource) ComputeTemplate(context.Context, string, string) (*defaults.Template, error) {
	panic("lookup")
}

// TestAdmissionMetrics sends reviews through both handlers and reads the
// counter back: result and reason for each way an answer is made, and the
// kind and operation labels bounded.
func TestAdmissionMetrics(t *testing.T) {
	mutate, _ := handlers(t)
	limited := defaults.DefaultPolicy()
	limited.Limits.MaxReplicasPerGroup = 2
	bigVolumes := strings.Replace(compact, `"annotations":{`, `"annotations":{"raypilot.io/volumes":"`+strings.Repeat("#", defaults.MaxVolumesBytes+1)+`",`, 1)
	cases := []struct {
		name     string
		source   defaults.TemplateSource // nil: the handlers' template t in ns
		policy   *defaults.Policy
		webhook  string
		req      admission.Request
		panics   bool
		kind, op string
		result   string
		reason   string
	}{
		{name: "patched", webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", compact),
			kind: "RayCluster", op: "CREATE", result: resultPatched},
		{name: "allowed", webhook: webhookValidate, req: request(admissionv1.Update, "RayJob", `{"apiVersion":"ray.io/v1","kind":"RayJob","metadata":{"name":"c"},"spec":{"rayClusterSpec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}}`),
			kind: "RayJob", op: "UPDATE", result: resultAllowed},
		{name: "delete", webhook: webhookMutate, req: request(admissionv1.Delete, "RayService", ""),
			kind: "RayService", op: "DELETE", result: resultAllowed},
		{name: "not a Ray kind", webhook: webhookMutate, req: request(admissionv1.Create, "RayCronJob", `{"kind":"RayCronJob"}`),
			kind: "other", op: "CREATE", result: resultAllowed},
		{name: "unknown operation", webhook: webhookValidate, req: request("PATCH", "RayCluster", compact),
			kind: "RayCluster", op: "other", result: resultAllowed},
		{name: "invalid", webhook: webhookValidate, req: request(admissionv1.Create, "RayCluster", strings.Replace(compact, `"minReplicas":0`, `"minReplicas":6`, 1)),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: reasonInvalidInput},
		{name: "policy", policy: limited, webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", compact),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: defaults.OriginPolicy},
		{name: "template not found", webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", strings.Replace(compact, `"ray.io/compute-template":"t"`, `"ray.io/compute-template":"nope"`, 1)),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: defaults.OriginTemplateNotFound},
		{name: "template invalid", source: invalidSource{&defaults.TemplateSet{}}, webhook: webhookValidate, req: request(admissionv1.Create, "RayCluster", compact),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: defaults.OriginTemplateInvalid},
		{name: "too large", webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", bigVolumes),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: defaults.OriginTooLarge},
		{name: "decode", webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", `[1]`),
			kind: "RayCluster", op: "CREATE", result: resultDenied, reason: defaults.OriginDecode},
		{name: "lookup failed", source: failingSource{&defaults.TemplateSet{}}, webhook: webhookMutate, req: request(admissionv1.Create, "RayCluster", compact),
			kind: "RayCluster", op: "CREATE", result: resultError, reason: reasonUnavailable},
		{name: "panic", source: panickingSource{&defaults.TemplateSet{}}, webhook: webhookValidate, req: request(admissionv1.Update, "RayCluster", compact), panics: true,
			kind: "RayCluster", op: "UPDATE", result: resultError, reason: reasonPanic},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			hc := Config{Templates: mutate.Templates, Policy: mutate.Policy, Log: zap.NewNop(), Metrics: m}
			if c.source != nil {
				hc.Templates = c.source
			}
			if c.policy != nil {
				hc.Policy = func() *defaults.Policy { return c.policy }
			}
			var h admission.Handler = &MutatingHandler{hc}
			if c.webhook == webhookValidate {
				h = &ValidatingHandler{hc}
			}
			resp, panicked := handle(h, c.req)
			if panicked != c.panics {
				t.Fatalf("panicked %v", panicked)
			}
			if !c.panics && resp.Allowed != (c.result == resultAllowed || c.result == resultPatched) {
				t.Fatalf("allowed %v, result %+v; the case expects %s", resp.Allowed, resp.Result, c.result)
			}
			want := map[string]string{"webhook": c.webhook, "kind": c.kind, "operation": c.op, "result": c.result, "reason": c.reason}
			got := gather(t, reg, MetricAdmissions)
			if len(got) != 1 || !sameLabels(got[0], want) || got[0].GetCounter().GetValue() != 1 {
				t.Errorf("%s: %v; want one series %v = 1", MetricAdmissions, got, want)
			}
			hist := gather(t, reg, MetricAdmissionDuration)
			if len(hist) != 1 || !sameLabels(hist[0], map[string]string{"webhook": c.webhook, "kind": c.kind}) || hist[0].GetHistogram().GetSampleCount() != 1 {
				t.Errorf("%s: %v; want one observation for webhook %s, kind %s", MetricAdmissionDuration, hist, c.webhook, c.kind)
			}
		})
	}
}

// Two webhook servers of one process (tests) share the metrics.
func TestNewMetricsShares(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if a.admissions != b.admissions || a.duration != b.duration {
		t.Error("second NewMetrics on one registry did not share the collectors")
	}
}

// handle calls h, reporting a panic instead of propagating it.
func handle(h admission.Handler, req admission.Request) (resp admission.Response, panicked bool) {
	defer func() { panicked = recover() != nil }()
	return h.Handle(context.Background(), req), false
}

// gather returns the series of the metric name on reg.
func gather(t *testing.T, reg prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.Metric
		}
	}
	return nil
}

// sameLabels reports whether m has exactly the labels want.
func sameLabels(m *dto.Metric, want map[string]string) bool {
	if len(m.Label) != len(want) {
		return false
	}
	for _, l := range m.Label {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}
