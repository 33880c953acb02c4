package engine

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// groupLabels are the Ray node labels of a group's workers as Ray's
// autoscaler knows them. KubeRay v1.5.0 starts Ray with `--labels` built
// from the group's top-level labels field when it is set, replacing
// rayStartParams' labels (updateRayStartParamsLabels in
// ray-operator/controllers/ray/common/pod.go); otherwise rayStartParams'
// labels reach `ray start` as written, and Ray's KubeRay config reader takes
// them from there (_get_labels_from_group_spec in
// python/ray/autoscaler/_private/kuberay/autoscaling_config.py).
func groupLabels(top map[string]string, rayStartParams map[string]string) map[string]string {
	if len(top) > 0 {
		out := make(map[string]string, len(top))
		for k, v := range top {
			out[k] = v
		}
		return out
	}
	return parseNodeLabels(rayStartParams["labels"])
}

// parseNodeLabels reads Ray's "k1=v1,k2=v2" labels string the way Ray does
// (parse_node_labels_string in python/ray/_private/label_utils.py):
// surrounding double quotes are dropped, pairs split on ",", each pair on
// "=" into exactly two parts, keys and values trimmed, and the result held to
// Kubernetes label syntax. Ray's config reader logs a string it cannot parse
// and uses no labels; so does this.
func parseNodeLabels(s string) map[string]string {
	if len(s) > 1 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		kv := strings.Split(pair, "=")
		if len(kv) != 2 {
			return nil
		}
		k, v := strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1])
		if len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			return nil
		}
		out[k] = v
	}
	return out
}
