// Package webhookdoor expands documents through raypilot's admission
// webhooks, as a kube-apiserver with the KubeRay CRDs calls them: the
// counterpart of manifest.Expand (`raypilot expand`) for the tests that
// hold both to the same golden files and to the same verdicts.
//
// It is test support: only tests import it.
package webhookdoor

import (
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/webhook"
)

// Expand creates every RayCluster, RayJob and RayService of docs through
// the webhooks under policy, with the templates of docs in the cluster,
// and returns what manifest.Expand returns for them: the warnings and
// errors kubectl would print and the objects as the mutating webhook
// expands them. Objects without a namespace are created in
// goldencorpus.Namespace.
//
// Each object is sent as an AdmissionReview over HTTP to the mutating
// webhook (webhook.MutatingHandler behind webhook.NewHTTPHandler, as the
// server registers it), its JSON patch is applied, and the result is sent to
// the validating webhook; between them stand the API server's own steps
// (see verdict). The templates are served by the webhook's own lookup
// (webhook.Templates) from a fake cluster holding them.
func Expand(docs []manifest.Document, policy *defaults.Policy) (*manifest.Output, error) {
	return expand(docs, policy, false)
}

// ExpandSingleCall is Expand through the single-call configuration: the
// mutating webhook with webhook.Config.SingleCall, and no validating
// webhook registered.
func ExpandSingleCall(docs []manifest.Document, policy *defaults.Policy) (*manifest.Output, error) {
	return expand(docs, policy, true)
}

func expand(docs []manifest.Document, policy *defaults.Policy, singleCall bool) (*manifest.Output, error) {
	templates, err := clusterTemplates(docs)
	if err != nil {
		return nil, err
	}
	hc := webhook.Config{Templates: templates, Policy: func() *defaults.Policy { return policy }, Log: zap.NewNop(), Volumes: webhook.NewVolumeCache(), Hashes: webhook.NewHashCache(), SingleCall: singleCall}
	p := pair{mutate: webhook.NewHTTPHandler(&webhook.MutatingHandler{Config: hc}, hc.Log)}
	if !singleCall {
		p.validate = webhook.NewHTTPHandler(&webhook.ValidatingHandler{Config: hc}, hc.Log)
	}
	return goldencorpus.AdmitEach(docs, p.create)
}

// pair is the registered webhooks; validate is nil in the single-call
// configuration.
type pair struct{ mutate, validate http.Handler }

// create is the verdict on creating d and the object the mutating webhook
// makes of d as written: `raypilot expand` prints that one too, without
// the fields the CRD's defaults add.
func (p pair) create(d manifest.Document) (goldencorpus.Verdict, error) {
	ns := d.Namespace
	if ns == "" {
		ns = goldencorpus.Namespace
	}
	v, err := p.verdict(d, ns)
	if err != nil || len(v.Errors) > 0 {
		return v, err
	}
	mutated, err := review(p.mutate, d, ns, d.JSON)
	if err != nil {
		return v, fmt.Errorf("mutating webhook: %w", err)
	}
	if !mutated.Allowed {
		return v, fmt.Errorf("mutating webhook: denies the object as written but admits it decoded by the CRD: %s", mutated.Result.Message)
	}
	v.Object, err = applyPatch(mutated, d.JSON)
	return v, err
}
