package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// Templates answers template lookups from an informer cache, with no API
// call per admission in the common case. A cache miss gets one live read
// through the API server before the template is reported missing: a
// template created in the same `kubectl apply` as the cluster naming it
// may not have reached the cache yet. The ConfigMap informer only holds
// ConfigMaps labelled ray.io/config-type=compute-template.
type Templates struct {
	// Cache is the informer cache.
	Cache client.Reader
	// Live reads through the API server (the manager's API reader); nil
	// trusts the cache's misses.
	Live client.Reader
	// Namespaces, when set, are the only namespaces whose ComputeTemplates
	// and ConfigMaps Cache holds (and the webhook may read): a lookup in
	// another one is a *defaults.InvalidTemplateError naming the flag, not
	// a cluster-wide read.
	Namespaces []string
	// NoConfigMaps turns ConfigMap templates off: none is read, and every
	// one is reported as not found.
	NoConfigMaps bool
}

var _ defaults.TemplateSource = Templates{}

// get reads key into obj from the cache, then, on a miss, from the API
// server. It returns found == false only when the API server (or, without
// Live, the cache) says NotFound; any other failure is an error.
func (s Templates) get(ctx context.Context, key types.NamespacedName, obj client.Object) (bool, error) {
	err := s.Cache.Get(ctx, key, obj)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("read %s from the cache: %w", describe(obj, key), err)
	}
	if s.Live == nil {
		return false, nil
	}
	err = s.Live.Get(ctx, key, obj)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("read %s from the API server: %w", describe(obj, key), err)
	}
}

func describe(obj client.Object, key types.NamespacedName) string {
	kind := fmt.Sprintf("%T", obj)
	switch obj.(type) {
	case *v1alpha1.ComputeTemplate:
		kind = defaults.KindComputeTemplate
	case *v1alpha1.ClusterComputeTemplate:
		kind = defaults.KindClusterComputeTemplate
	case *corev1.ConfigMap:
		kind = defaults.KindConfigMap
	}
	if key.Namespace == "" {
		return kind + " " + key.Name
	}
	return kind + " " + key.String()
}

// ComputeTemplate implements defaults.TemplateSource.
func (s Templates) ComputeTemplate(ctx context.Context, namespace, name string) (*defaults.Template, error) {
	if !s.watches(namespace) {
		return nil, s.notWatched(namespace)
	}
	var ct v1alpha1.ComputeTemplate
	if ok, err := s.get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &ct); !ok {
		return nil, err
	}
	return defaults.TemplateFromComputeTemplate(&ct), nil
}

// ConfigMapTemplate implements defaults.TemplateSource. The live read sees
// unlabelled ConfigMaps too; those are not templates. With NoConfigMaps
// nothing is read and no template is found.
func (s Templates) ConfigMapTemplate(ctx context.Context, namespace, name string) (*defaults.Template, error) {
	if s.NoConfigMaps {
		return nil, nil
	}
	if !s.watches(namespace) {
		return nil, s.notWatched(namespace)
	}
	var cm corev1.ConfigMap
	if ok, err := s.get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &cm); !ok {
		return nil, err
	}
	if cm.Labels[configTypeLabel] != configTypeTemplate {
		return nil, nil
	}
	t, err := defaults.TemplateFromConfigMap(namespace, name, cm.Data)
	if err != nil {
		return nil, &defaults.InvalidTemplateError{Err: err}
	}
	return t, nil
}

// ClusterComputeTemplate implements defaults.TemplateSource.
func (s Templates) ClusterComputeTemplate(ctx context.Context, name string) (*defaults.Template, error) {
	var ct v1alpha1.ClusterComputeTemplate
	if ok, err := s.get(ctx, types.NamespacedName{Name: name}, &ct); !ok {
		return nil, err
	}
	return defaults.TemplateFromClusterComputeTemplate(&ct), nil
}

// Names implements defaults.TemplateSource, from the cache only: it only
// words the "not found" message. With NoConfigMaps and withConfigMaps it
// lists the other kinds and says, as its error, that ConfigMaps are not
// read.
func (s Templates) Names(ctx context.Context, namespace string, withConfigMaps bool) ([]string, error) {
	if !s.watches(namespace) {
		return nil, s.notWatched(namespace)
	}
	var out []string
	var errs []error
	var cts v1alpha1.ComputeTemplateList
	if err := s.Cache.List(ctx, &cts, client.InNamespace(namespace)); err != nil {
		errs = append(errs, err)
	}
	for _, t := range cts.Items {
		out = append(out, defaults.KindComputeTemplate+"/"+t.Name)
	}
	if withConfigMaps && s.NoConfigMaps {
		errs = append(errs, errConfigMapsOff)
	} else if withConfigMaps {
		var cms corev1.ConfigMapList
		if err := s.Cache.List(ctx, &cms, client.InNamespace(namespace), client.MatchingLabels{configTypeLabel: configTypeTemplate}); err != nil {
			errs = append(errs, err)
		}
		for _, cm := range cms.Items {
			out = append(out, defaults.KindConfigMap+"/"+cm.Name)
		}
	}
	var ccts v1alpha1.ClusterComputeTemplateList
	if err := s.Cache.List(ctx, &ccts); err != nil {
		errs = append(errs, err)
	}
	for _, t := range ccts.Items {
		out = append(out, defaults.KindClusterComputeTemplate+"/"+t.Name)
	}
	slices.Sort(out)
	return out, errors.Join(errs...)
}

const (
	configTypeLabel    = "ray.io/config-type"
	configTypeTemplate = "compute-template"
)
