package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/webhook"
)

// staleCache is an informer cache that has not seen anything yet (every
// read misses), or that fails with err.
type staleCache struct {
	client.Reader
	err error
}

func (s staleCache) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if s.err != nil {
		return s.err
	}
	return apierrors.NewNotFound(schema.GroupResource{Resource: "whatever"}, key.Name)
}

func (s staleCache) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return s.err
}

func liveReader(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const templateRefCluster = `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","namespace":"tpl-live","annotations":{"ray.io/compute-template":"%s"}},
"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}`

// A template the cache has not seen yet but the API server has (created in
// the same apply as the cluster naming it) is found by the live read.
func TestTemplateMissingFromCacheIsReadLive(t *testing.T) {
	ctx := context.Background()
	live := liveReader(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tpl-live"}}
	if err := live.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	objs := []client.Object{
		&v1alpha1.ComputeTemplate{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "tpl-live"},
			Spec: v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("3"), Memory: resource.MustParse("5Gi")}},
		&v1alpha1.ClusterComputeTemplate{ObjectMeta: metav1.ObjectMeta{Name: "fresh-cluster-wide"},
			Spec: v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("2"), Memory: resource.MustParse("1Gi")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fresh-cm", Namespace: "tpl-live", Labels: map[string]string{"ray.io/config-type": "compute-template"}},
			Data: map[string]string{"cpu": "4", "memory": "8"}},
		// Not a template: no label. The live read must not take it.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain-cm", Namespace: "tpl-live"}, Data: map[string]string{"cpu": "4", "memory": "8"}},
	}
	for _, o := range objs {
		if err := live.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	src := webhook.Templates{Cache: staleCache{}, Live: live}
	for name, wantCPU := range map[string]string{"fresh": "3", "fresh-cluster-wide": "2", "fresh-cm": "4"} {
		res := defaults.Expand(defaults.Input{Object: []byte(fmt.Sprintf(templateRefCluster, name)), Templates: src, Context: ctx})
		if len(res.Errors) > 0 {
			t.Errorf("%s: %v", name, res.Errors)
			continue
		}
		if !strings.Contains(string(res.Object), `"cpu":"`+wantCPU+`"`) {
			t.Errorf("%s: template not applied: %s", name, res.Object)
		}
	}
	for _, name := range []string{"plain-cm", "never-created"} {
		res := defaults.Expand(defaults.Input{Object: []byte(fmt.Sprintf(templateRefCluster, name)), Templates: src, Context: ctx})
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "compute template not found") || defaults.Retryable(res.Errors) {
			t.Errorf("%s: want one not-found error, got %v", name, res.Errors)
		}
	}

	// Without the live read the stale cache's miss is final: the test above
	// depends on the fallback.
	res := defaults.Expand(defaults.Input{Object: []byte(fmt.Sprintf(templateRefCluster, "fresh")), Templates: webhook.Templates{Cache: staleCache{}}, Context: ctx})
	if len(res.Errors) == 0 {
		t.Error("a cache without the live read found a template it never saw")
	}
}

// A cache failure other than NotFound is a retryable error naming the
// cause, never "not found".
func TestTemplateCacheErrorIsRetryable(t *testing.T) {
	ctx := context.Background()
	src := webhook.Templates{Cache: staleCache{err: errors.New("cache stopped")}, Live: liveReader(t)}
	res := defaults.Expand(defaults.Input{Object: []byte(fmt.Sprintf(templateRefCluster, "fresh")), Templates: src, Context: ctx})
	if !defaults.Retryable(res.Errors) {
		t.Fatalf("want a retryable error, got %v", res.Errors)
	}
	msg := res.Errors.ToAggregate().Error()
	if strings.Contains(msg, "not found") || !strings.Contains(msg, "cache stopped") || !strings.Contains(msg, "retry") {
		t.Errorf("message: %s", msg)
	}

	// The live read failing (an API server that refuses the request) is
	// retryable too.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	res = defaults.Expand(defaults.Input{Object: []byte(fmt.Sprintf(templateRefCluster, "fresh")), Templates: webhook.Templates{Cache: staleCache{}, Live: liveReader(t)}, Context: cancelled})
	if !defaults.Retryable(res.Errors) {
		t.Fatalf("live read with a cancelled context: want a retryable error, got %v", res.Errors)
	}
}
