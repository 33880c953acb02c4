package raysim

import (
	"encoding/hex"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Node label keys Ray sets itself (Ray src/ray/common/constants.h, commit
// 1f769c11a5e9734553916efb231afc050cdc1dd0).
const (
	labelNodeID     = "ray.io/node-id"
	labelNodeGroup  = "ray.io/node-group"
	labelMarketType = "ray.io/market-type"
	labelRegion     = "ray.io/availability-region"
	labelZone       = "ray.io/availability-zone"
)

// nodeTypeName is the Ray node type of pod p: env RAY_NODE_TYPE_NAME
// (kNodeTypeNameEnv, constants.h), which KubeRay sets from the pod's
// ray.io/group label; the label itself when the env is missing.
func nodeTypeName(p *corev1.Pod, secrets secretSource) string {
	if v := env(p, "RAY_NODE_TYPE_NAME", secrets); v != "" {
		return v
	}
	return p.Labels["ray.io/group"]
}

// nodeLabels are the labels the raylet of pod p registers with, merged in
// Ray's order of precedence (python/ray/_private/resource_and_label_spec.py,
// _resolve_labels, commit 00250b3214903b40758de964d51bd3c28c38e36a):
//  1. Ray's defaults from the environment (_get_default_labels):
//     ray.io/node-group from RAY_NODE_TYPE_NAME, ray.io/market-type from
//     RAY_NODE_MARKET_TYPE, ray.io/availability-region from RAY_NODE_REGION,
//     ray.io/availability-zone from RAY_NODE_ZONE. The accelerator labels
//     come from probing the hardware and are not simulated.
//  2. `ray start --labels` (from KubeRay's generated start command), either
//     "k1=v1,k2=v2" (python/ray/_private/label_utils.py,
//     parse_node_labels_string) or a JSON object (the older form).
//  3. RAY_OVERRIDE_LABELS, a JSON object
//     (python/ray/_private/ray_constants.py, LABELS_ENVIRONMENT_VARIABLE).
//
// Last, the raylet adds ray.io/node-id, the node's hex ID, which users may
// not set (src/ray/raylet/main.cc, commit 3205b9d6287b21f4be3083031670c2470ae26863).
func nodeLabels(p *corev1.Pod, id []byte, secrets secretSource) map[string]string {
	out := map[string]string{}
	if v := nodeTypeName(p, secrets); v != "" {
		out[labelNodeGroup] = v
	}
	for envName, key := range map[string]string{
		"RAY_NODE_MARKET_TYPE": labelMarketType,
		"RAY_NODE_REGION":      labelRegion,
		"RAY_NODE_ZONE":        labelZone,
	} {
		if v := env(p, envName, secrets); v != "" {
			out[key] = v
		}
	}
	for k, v := range startLabels(p) {
		out[k] = v
	}
	if raw := env(p, "RAY_OVERRIDE_LABELS", secrets); raw != "" {
		var override map[string]string
		if json.Unmarshal([]byte(raw), &override) == nil {
			for k, v := range override {
				out[k] = v
			}
		}
	}
	out[labelNodeID] = hex.EncodeToString(id)
	return out
}

// startLabels reads --labels from KubeRay's generated `ray start` command.
func startLabels(p *corev1.Pod) map[string]string {
	raw, ok := startFlags(p)["labels"]
	if !ok {
		return nil
	}
	out := map[string]string{}
	if json.Unmarshal([]byte(strings.ReplaceAll(raw, `\`, "")), &out) == nil {
		return out
	}
	for _, pair := range strings.Split(raw, ",") {
		k, v, found := strings.Cut(pair, "=")
		if !found || strings.Contains(v, "=") {
			return nil // Ray refuses to start with a malformed --labels
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}
