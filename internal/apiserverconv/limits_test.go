package apiserverconv

import (
	"fmt"
	"strings"
	"testing"
)

// Inputs beyond the API server's own bounds are refused with a message
// naming the input or the field, before they cost time or memory.
func TestLimits(t *testing.T) {
	var env, groups []string
	for i := range 20000 {
		env = append(env, fmt.Sprintf(`"V%d": "x"`, i))
	}
	for i := range 2000 {
		groups = append(groups, fmt.Sprintf(`{"groupName": "g%d", "computeTemplate": "t", "maxReplicas": 1}`, i))
	}
	amplified := `{"name": "c", "version": "2.9.0", "envs": {"values": {` + strings.Join(env, ",") + `}},
	  "clusterSpec": {"headGroupSpec": {"computeTemplate": "t"}, "workerGroupSpec": [` + strings.Join(groups, ",") + `]}}`

	var vols []string
	for i := range 300 {
		vols = append(vols, fmt.Sprintf(`{"name": "v%d", "mountPath": "/v/%d", "volumeType": "CONFIGMAP", "source": "cm-%d-%s"}`, i, i, i, strings.Repeat("x", 200)))
	}
	manyVolumes := `{"name": "c", "version": "2.9.0", "clusterSpec": {"headGroupSpec": {"computeTemplate": "t", "volumes": [` + strings.Join(vols[:150], ",") + `]},
	  "workerGroupSpec": [{"groupName": "w", "computeTemplate": "t", "maxReplicas": 1, "volumes": [` + strings.Join(vols[150:], ",") + `]}]}}`

	for _, tc := range []struct{ name, input, want string }{
		{"input too large", "[" + strings.Repeat(" ", MaxInputBytes) + "]", "in: more than 33554432 bytes; split it"},
		{"request too large", `{"name": "t", "cpu": 1, "memory": 1` + strings.Repeat(" ", MaxRequestBytes) + "}", "in: object 1: 3145764 bytes: more than the 3145728 bytes a Kubernetes request may have"},
		{"too deep", `{"name": "t", "cpu": 1, "memory": 1, "x": ` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}",
			"in: object 1: x" + strings.Repeat("[0]", MaxDepth-1) + ": nested deeper than 32 levels"},
		{"not UTF-8", "{\"name\": \"\xff\"}", "in: not valid UTF-8 at byte 10"},
		{"volumes past raypilot's bound for one object", manyVolumes, "in: object 1: clusterSpec.headGroupSpec.volumes: Too long: the groups' volumes come to"},
		{"envs copied into every group", amplified, "in: object 1: envs: Too long: copied into the Ray container of each of the 2001 groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Convert([]Input{{Source: "in", Data: []byte(tc.input)}}, Options{})
			if len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0], tc.want) || res.Objects != nil {
				t.Errorf("errors %q, want one starting %q", res.Errors, tc.want)
			}
		})
	}
}
