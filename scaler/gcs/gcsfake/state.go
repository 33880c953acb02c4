package gcsfake

import (
	"encoding/hex"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// HeadNode is the node state a Ray GCS reports for a KubeRay head started
// with num-cpus 0, as RayClusters handed to the scaler run it: running, no
// CPU, 4 GiB of memory, the node:<ip> and head resources (ray:
// python/ray/_private/ray_constants.py NODE_ID_PREFIX,
// HEAD_NODE_RESOURCE_NAME) and the labels the raylet sets, of KubeRay's
// head group.
func HeadNode(id []byte, pod, ip string) *rpcpb.NodeState {
	resources := func() map[string]float64 {
		return map[string]float64{"memory": 4 << 30, "object_store_memory": 1 << 30, "node:" + ip: 1, engine.HeadResource: 1}
	}
	return &rpcpb.NodeState{
		NodeId:             id,
		InstanceId:         pod,
		RayNodeTypeName:    engine.HeadGroupName,
		NodeIpAddress:      ip,
		TotalResources:     resources(),
		AvailableResources: resources(),
		Status:             rpcpb.NodeStatus_RUNNING,
		Labels:             map[string]string{"ray.io/node-group": engine.HeadGroupName, "ray.io/node-id": hex.EncodeToString(id)},
	}
}
