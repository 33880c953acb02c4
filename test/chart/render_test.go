package chart

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// rendered is the output of one `helm template`, split into objects.
type rendered struct {
	raw  string
	objs []*unstructured.Unstructured
}

// render runs `helm template <release>` in releaseNamespace with the given
// extra flags (--set ..., -f ...) and parses every document.
func render(t *testing.T, release string, flags ...string) rendered {
	t.Helper()
	args := append([]string{"template", release, chartDir, "--namespace", releaseNamespace}, flags...)
	out, err := helm(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := rendered{raw: out}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("parse helm template output: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		r.objs = append(r.objs, &unstructured.Unstructured{Object: m})
	}
	return r
}

// find returns the object of kind and name, failing the test when absent.
func (r rendered) find(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	if o := r.lookup(kind, name); o != nil {
		return o
	}
	t.Fatalf("no %s %q rendered; have %s", kind, name, r.names())
	return nil
}

func (r rendered) lookup(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) names() string {
	var s []string
	for _, o := range r.objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// yamlOf re-encodes the chosen objects as a multi-document stream.
func yamlOf(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		js, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		b.WriteString("\n")
	}
	return b.Bytes()
}

// as converts an unstructured object into a typed one.
func as[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
		t.Fatalf("convert %s/%s: %v", o.GetKind(), o.GetName(), err)
	}
	return out
}

func deployment(t *testing.T, r rendered, name string) *appsv1.Deployment {
	return as[appsv1.Deployment](t, r.find(t, "Deployment", name))
}

func clusterRole(t *testing.T, r rendered, name string) *rbacv1.ClusterRole {
	return as[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", name))
}

func mutating(t *testing.T, r rendered, name string) *admissionv1.MutatingWebhookConfiguration {
	return as[admissionv1.MutatingWebhookConfiguration](t, r.find(t, "MutatingWebhookConfiguration", name))
}

func validating(t *testing.T, r rendered, name string) *admissionv1.ValidatingWebhookConfiguration {
	return as[admissionv1.ValidatingWebhookConfiguration](t, r.find(t, "ValidatingWebhookConfiguration", name))
}

// flagValue returns the value of --name=value in args, and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name {
			return "true", true
		}
	}
	return "", false
}

func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("deployment %s has no container %q", d.Name, name)
	return corev1.Container{}
}

// valuesFile writes a values file for one test and returns its -f flag.
func valuesFile(t *testing.T, content string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-f", p}
}

func ruleString(r rbacv1.PolicyRule) string {
	return fmt.Sprintf("%v %v %v names=%v", r.APIGroups, r.Resources, r.Verbs, r.ResourceNames)
}
