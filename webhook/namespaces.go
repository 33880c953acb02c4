package webhook

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// templateCacheOptions are the informer settings of the namespaced template
// kinds: ComputeTemplates and (unless noConfigMaps) ConfigMaps labelled
// ray.io/config-type=compute-template, in the namespaces listed (empty: all
// of them). ClusterComputeTemplates are cluster-scoped and need no entry.
func templateCacheOptions(namespaces []string, noConfigMaps bool) map[client.Object]cache.ByObject {
	var in map[string]cache.Config
	if len(namespaces) > 0 {
		in = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			in[ns] = cache.Config{}
		}
	}
	m := map[client.Object]cache.ByObject{&v1alpha1.ComputeTemplate{}: {Namespaces: in}}
	if !noConfigMaps {
		m[&corev1.ConfigMap{}] = cache.ByObject{Namespaces: in, Label: labels.SelectorFromSet(labels.Set{configTypeLabel: configTypeTemplate})}
	}
	return m
}

// watches reports whether the namespaced templates of namespace are
// cached; the caches of the others do not exist, and the webhook has no
// right to read there.
func (s Templates) watches(namespace string) bool {
	return len(s.Namespaces) == 0 || slices.Contains(s.Namespaces, namespace)
}

// notWatched is the answer for a namespace outside Namespaces: a namespaced
// template there may exist and would take precedence over a
// ClusterComputeTemplate, so the lookup cannot say "not found".
func (s Templates) notWatched(namespace string) error {
	return &defaults.InvalidTemplateError{Err: fmt.Errorf("namespace %q is not watched by this webhook (raypilot webhook --watch-namespaces=%s): its compute templates cannot be read", namespace, strings.Join(s.Namespaces, ","))}
}

// errConfigMapsOff is what Names says about ConfigMap templates when they
// are turned off.
var errConfigMapsOff = fmt.Errorf("ConfigMap templates are not read (raypilot webhook --configmap-templates=false)")
