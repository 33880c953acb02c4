package webhookdoor

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/manifest"
	"github.com/raypilot/raypilot/webhook"
)

// clusterTemplates is the webhook's template lookup over a cluster holding
// the template documents of docs (list items included): a fake client
// stands for both the informer cache and the API server.
func clusterTemplates(docs []manifest.Document) (webhook.Templates, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return webhook.Templates{}, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return webhook.Templates{}, err
	}
	objs, err := templateObjects(docs)
	if err != nil {
		return webhook.Templates{}, err
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	return webhook.Templates{Cache: c, Live: c}, nil
}

func templateObjects(docs []manifest.Document) ([]client.Object, error) {
	var out []client.Object
	for _, d := range docs {
		items, err := templateObjects(d.Items)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if !d.IsTemplate() {
			continue
		}
		var o client.Object
		switch d.Kind {
		case defaults.KindComputeTemplate:
			o = &v1alpha1.ComputeTemplate{}
		case defaults.KindClusterComputeTemplate:
			o = &v1alpha1.ClusterComputeTemplate{}
		default:
			o = &corev1.ConfigMap{}
		}
		if err := json.Unmarshal(d.JSON, o); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, err)
		}
		if o.GetNamespace() == "" && d.Kind != defaults.KindClusterComputeTemplate {
			o.SetNamespace(goldencorpus.Namespace)
		}
		out = append(out, o)
	}
	return out, nil
}
