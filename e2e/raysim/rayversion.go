package raysim

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// releaseTag is the start of a Ray image tag that names a release:
// "2.52.0", "2.52.0-py311-gpu".
var releaseTag = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+`)

// imageRayVersion is the Ray release the head pod's Ray container image
// names by its tag, or "" when the tag names none (latest, nightly, a
// digest).
func imageRayVersion(head *corev1.Pod) string {
	if head == nil || len(head.Spec.Containers) == 0 {
		return ""
	}
	image := head.Spec.Containers[0].Image
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return releaseTag.FindString(image[i+1:])
}
