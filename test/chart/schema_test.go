package chart

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSchemaDefsMatchKubernetes: the schema's definitions of Kubernetes
// objects (closed with additionalProperties false, so that typos fail)
// list exactly the fields of the pinned k8s.io/api types, so no valid field
// is refused and none is missing after a Kubernetes bump.
func TestSchemaDefsMatchKubernetes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Properties           map[string]node
		Items                *node
		AdditionalProperties any
	}
	var schema struct {
		Defs map[string]node `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	for def, typ := range map[string]any{
		"podSecurityContext":        corev1.PodSecurityContext{},
		"securityContext":           corev1.SecurityContext{},
		"seccompProfile":            corev1.SeccompProfile{},
		"topologySpreadConstraints": corev1.TopologySpreadConstraint{},
		"labelSelector":             metav1.LabelSelector{},
	} {
		n, ok := schema.Defs[def]
		if !ok {
			t.Errorf("values.schema.json has no $defs/%s", def)
			continue
		}
		if n.Items != nil {
			n = *n.Items
		}
		if n.AdditionalProperties != false {
			t.Errorf("$defs/%s does not refuse unknown fields", def)
		}
		if got, want := slices.Sorted(maps.Keys(n.Properties)), jsonFields(reflect.TypeOf(typ)); !slices.Equal(got, want) {
			t.Errorf("$defs/%s has %v; %T has %v", def, got, typ, want)
		}
	}
	// matchConditions is defined in place, under webhook.
	var values struct {
		Properties map[string]struct {
			Properties map[string]node
		}
	}
	if err := json.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	mc := values.Properties["webhook"].Properties["matchConditions"]
	if mc.Items == nil || !slices.Equal(slices.Sorted(maps.Keys(mc.Items.Properties)), jsonFields(reflect.TypeOf(admissionv1.MatchCondition{}))) {
		t.Errorf("webhook.matchConditions items do not match admissionregistration/v1 MatchCondition")
	}
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
