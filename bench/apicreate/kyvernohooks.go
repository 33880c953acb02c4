package main

import (
	"context"
	"fmt"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of the webhook configurations Kyverno manages (kyverno v1.19.1:
// pkg/config/config.go).
const (
	kyvernoPolicyValidating   = "kyverno-policy-validating-webhook-cfg"
	kyvernoResourceMutating   = "kyverno-resource-mutating-webhook-cfg"
	kyvernoResourceValidating = "kyverno-resource-validating-webhook-cfg"
)

// kyvernoPolicyWebhook reports whether Kyverno has registered the webhook
// that validates its policies.
func (e *environment) kyvernoPolicyWebhook(ctx context.Context) (bool, error) {
	var c admissionregistrationv1.ValidatingWebhookConfiguration
	err := e.client.Get(ctx, client.ObjectKey{Name: kyvernoPolicyValidating}, &c)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", kyvernoPolicyValidating, err)
	}
	return len(c.Webhooks) > 0, nil
}

// kyvernoHooksRayClusters reports whether Kyverno's resource webhook
// configurations (mutating, validating) send RayCluster creates to Kyverno;
// Kyverno reconciles them from its policies a little after a policy
// changes.
func (e *environment) kyvernoHooksRayClusters(ctx context.Context) (mutating, validating bool, err error) {
	var m admissionregistrationv1.MutatingWebhookConfiguration
	switch err := e.client.Get(ctx, client.ObjectKey{Name: kyvernoResourceMutating}, &m); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, false, fmt.Errorf("get %s: %w", kyvernoResourceMutating, err)
	default:
		for _, w := range m.Webhooks {
			mutating = mutating || rulesMatchRayClusters(w.Rules)
		}
	}
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	switch err := e.client.Get(ctx, client.ObjectKey{Name: kyvernoResourceValidating}, &v); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, false, fmt.Errorf("get %s: %w", kyvernoResourceValidating, err)
	default:
		for _, w := range v.Webhooks {
			validating = validating || rulesMatchRayClusters(w.Rules)
		}
	}
	return mutating, validating, nil
}

// rulesMatchRayClusters reports whether webhook rules select creates of
// ray.io rayclusters.
func rulesMatchRayClusters(rules []admissionregistrationv1.RuleWithOperations) bool {
	for _, r := range rules {
		group := slices.Contains(r.APIGroups, "ray.io") || slices.Contains(r.APIGroups, "*")
		res := slices.Contains(r.Resources, "rayclusters") || slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, "*/*")
		op := slices.Contains(r.Operations, admissionregistrationv1.Create) || slices.Contains(r.Operations, admissionregistrationv1.OperationAll)
		if group && res && op {
			return true
		}
	}
	return false
}
