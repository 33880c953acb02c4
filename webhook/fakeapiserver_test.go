package webhook

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/raypilot/raypilot/api/v1alpha1"
)

// fakeAPIServer is just enough of an API server for Run with no objects:
// discovery of the kinds the webhook caches (ConfigMaps, ComputeTemplates,
// ClusterComputeTemplates), empty lists, and watches that stay open and
// quiet. A watch asking for the initial events (client-go's WatchListClient)
// is refused, so the informers list instead; anything else is 404.
func fakeAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	resources := map[string]metav1.APIResourceList{
		"/api/v1": {GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: metav1.Verbs{"get", "list", "watch"}},
		}},
		"/apis/" + v1alpha1.GroupVersion.String(): {GroupVersion: v1alpha1.GroupVersion.String(), APIResources: []metav1.APIResource{
			{Name: "computetemplates", Namespaced: true, Kind: "ComputeTemplate", Verbs: metav1.Verbs{"get", "list", "watch"}},
			{Name: "clustercomputetemplates", Kind: "ClusterComputeTemplate", Verbs: metav1.Verbs{"get", "list", "watch"}},
		}},
	}
	gv := metav1.GroupVersionForDiscovery{GroupVersion: v1alpha1.GroupVersion.String(), Version: v1alpha1.GroupVersion.Version}
	discovery := map[string]any{
		"/api":  metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}},
		"/apis": metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{{Name: v1alpha1.GroupVersion.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}}},
	}
	for path, list := range resources {
		list.Kind, list.APIVersion = "APIResourceList", "v1"
		discovery[path] = list
	}
	// The list kind of each collection path's last element.
	lists := map[string]string{}
	for _, list := range resources {
		for _, r := range list.APIResources {
			lists[r.Name] = list.GroupVersion + " " + r.Kind + "List"
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if d, ok := discovery[r.URL.Path]; ok {
			_ = json.NewEncoder(w).Encode(d)
			return
		}
		list, ok := lists[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]
		q := r.URL.Query()
		switch {
		case !ok:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound})
		case q.Get("watch") == "true" && q.Get("sendInitialEvents") == "true":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest})
		case q.Get("watch") == "true":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			apiVersion, kind, _ := strings.Cut(list, " ")
			_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]string{"resourceVersion": "1"}, "items": []any{}})
		}
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &rest.Config{Host: srv.URL}
}
