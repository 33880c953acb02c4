package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

// refusingReader fails the test on any read: the webhook has no right to
// make it.
type refusingReader struct{ t *testing.T }

func (r refusingReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	r.t.Errorf("unexpected read of %T %s", obj, key)
	return errors.New("refused")
}

func (r refusingReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	r.t.Errorf("unexpected list of %T", list)
	return errors.New("refused")
}

// TestTemplatesOutsideWatchedNamespaces: with Namespaces, a lookup in
// another namespace reads nothing (neither the cache, which has no informer
// there, nor the API server, where the webhook has no rights) and is the
// user's error naming the flag, not "not found" (a ComputeTemplate there
// would shadow a ClusterComputeTemplate of the same name).
func TestTemplatesOutsideWatchedNamespaces(t *testing.T) {
	s := Templates{Cache: refusingReader{t}, Live: refusingReader{t}, Namespaces: []string{"team-a", "team-b"}}
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		var invalid *defaults.InvalidTemplateError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), `"team-c"`) || !strings.Contains(err.Error(), "--watch-namespaces=team-a,team-b") {
			t.Errorf("%s in team-c: %v, want an InvalidTemplateError naming the namespace and the flag", what, err)
		}
	}
	_, err := s.ComputeTemplate(ctx, "team-c", "small")
	check("ComputeTemplate", err)
	_, err = s.ConfigMapTemplate(ctx, "team-c", "small")
	check("ConfigMapTemplate", err)
	_, err = s.Names(ctx, "team-c", true)
	check("Names", err)
}

// TestTemplatesConfigMapsOff: with NoConfigMaps no ConfigMap is read and
// the template is not found.
func TestTemplatesConfigMapsOff(t *testing.T) {
	s := Templates{Cache: refusingReader{t}, Live: refusingReader{t}, NoConfigMaps: true}
	if tpl, err := s.ConfigMapTemplate(context.Background(), "team-a", "small"); tpl != nil || err != nil {
		t.Errorf("ConfigMapTemplate = %v, %v; want not found", tpl, err)
	}
}

// TestTemplateCacheOptions: the namespaced template kinds are cached in the
// watched namespaces only (all without), with the ConfigMap label selector;
// no ConfigMap informer at all with ConfigMap templates off.
func TestTemplateCacheOptions(t *testing.T) {
	all := templateCacheOptions(nil, false)
	if len(all) != 2 {
		t.Fatalf("%d kinds configured, want ComputeTemplate and ConfigMap", len(all))
	}
	for o, by := range all {
		if by.Namespaces != nil {
			t.Errorf("%T limited to %v without watched namespaces", o, by.Namespaces)
		}
		if _, ok := o.(*corev1.ConfigMap); ok && by.Label.String() != configTypeLabel+"="+configTypeTemplate {
			t.Errorf("ConfigMaps selected by %q", by.Label)
		}
	}
	watched := templateCacheOptions([]string{"team-a", "team-b"}, true)
	if len(watched) != 1 {
		t.Fatalf("%d kinds configured with ConfigMap templates off, want ComputeTemplate only", len(watched))
	}
	for o, by := range watched {
		if _, ok := o.(*v1alpha1.ComputeTemplate); !ok {
			t.Errorf("%T configured, want ComputeTemplate", o)
		}
		if _, a := by.Namespaces["team-a"]; !a || len(by.Namespaces) != 2 {
			t.Errorf("ComputeTemplates cached in %v, want team-a and team-b", by.Namespaces)
		}
	}
}
