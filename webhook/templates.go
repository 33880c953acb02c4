package webhook

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// cachedTemplates answers template lookups from an informer cache: no API
// call per admission. The ConfigMap informer only holds ConfigMaps labelled
// ray.io/config-type=compute-template.
type cachedTemplates struct {
	reader client.Reader
}

var _ defaults.TemplateSource = cachedTemplates{}

func (c cachedTemplates) ComputeTemplate(namespace, name string) (*defaults.Template, bool) {
	var ct v1alpha1.ComputeTemplate
	if err := c.reader.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, &ct); err != nil {
		return nil, false
	}
	return defaults.TemplateFromComputeTemplate(&ct), true
}

func (c cachedTemplates) ConfigMapTemplate(namespace, name string) (*defaults.Template, bool, error) {
	var cm corev1.ConfigMap
	if err := c.reader.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, &cm); err != nil {
		return nil, false, nil
	}
	if cm.Labels[configTypeLabel] != configTypeTemplate {
		return nil, false, nil
	}
	t, err := defaults.TemplateFromConfigMap(namespace, name, cm.Data)
	return t, true, err
}

func (c cachedTemplates) ClusterComputeTemplate(name string) (*defaults.Template, bool) {
	var ct v1alpha1.ClusterComputeTemplate
	if err := c.reader.Get(context.Background(), types.NamespacedName{Name: name}, &ct); err != nil {
		return nil, false
	}
	return defaults.TemplateFromClusterComputeTemplate(&ct), true
}

func (c cachedTemplates) Names(namespace string, withConfigMaps bool) []string {
	ctx := context.Background()
	var out []string
	var cts v1alpha1.ComputeTemplateList
	if c.reader.List(ctx, &cts, client.InNamespace(namespace)) == nil {
		for _, t := range cts.Items {
			out = append(out, defaults.KindComputeTemplate+"/"+t.Name)
		}
	}
	if withConfigMaps {
		var cms corev1.ConfigMapList
		if c.reader.List(ctx, &cms, client.InNamespace(namespace), client.MatchingLabels{configTypeLabel: configTypeTemplate}) == nil {
			for _, cm := range cms.Items {
				out = append(out, defaults.KindConfigMap+"/"+cm.Name)
			}
		}
	}
	var ccts v1alpha1.ClusterComputeTemplateList
	if c.reader.List(ctx, &ccts) == nil {
		for _, t := range ccts.Items {
			out = append(out, defaults.KindClusterComputeTemplate+"/"+t.Name)
		}
	}
	slices.Sort(out)
	return out
}

const (
	configTypeLabel    = "ray.io/config-type"
	configTypeTemplate = "compute-template"
)
