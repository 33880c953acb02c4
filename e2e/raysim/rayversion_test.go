package raysim

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestImageRayVersion(t *testing.T) {
	for image, want := range map[string]string{
		"rayproject/ray:2.52.0":             "2.52.0",
		"rayproject/ray:2.9.3-py311-gpu":    "2.9.3",
		"registry.local:5000/ray:2.46.0":    "2.46.0",
		"registry.local:5000/ray":           "",
		"rayproject/ray:latest":             "",
		"rayproject/ray:nightly":            "",
		"rayproject/ray@sha256:0123":        "",
		"rayproject/ray:2.52.0@sha256:0123": "2.52.0",
		"":                                  "",
	} {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}
		if got := imageRayVersion(p); got != want {
			t.Errorf("%q: got %q, want %q", image, got, want)
		}
	}
}
