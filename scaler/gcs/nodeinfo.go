package gcs

import (
	"bytes"
	"context"
	"fmt"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// Names of the node-info RPCs, used in errors.
const (
	rpcCheckAlive = "CheckAlive"
	rpcStopNode   = "NodeInfoGcsService.DrainNode"
)

// RayVersion returns the Ray version the GCS was built as ("2.52.0"), from
// the reply to NodeInfoGcsService.CheckAlive, which every GCS since Ray 2.0
// fills from kRayVersion. An empty string means the GCS did not say.
func (c *Client) RayVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reply, err := c.node.CheckAlive(ctx, &nodeinfopb.CheckAliveRequest{})
	if err != nil {
		return "", wrapRPCError(c.addr, rpcCheckAlive, c.token, err)
	}
	if st := reply.GetStatus(); st.GetCode() != 0 {
		return "", fmt.Errorf("gcs %s: %s: status %d: %s", c.addr, rpcCheckAlive, st.GetCode(), bounded(st.GetMessage()))
	}
	return bounded(reply.GetRayVersion()), nil
}

// maxReplyText bounds a text a GCS answers with before it reaches logs,
// errors and the scaler's memory: whoever runs the head pod can run a GCS
// answering anything.
const maxReplyText = 256

// bounded cuts s to maxReplyText bytes. A Ray version that long is not a
// version, and CheckRayVersion refuses it.
func bounded(s string) string {
	if len(s) > maxReplyText {
		return s[:maxReplyText] + "..."
	}
	return s
}

// StopNode asks the GCS to stop Ray on the node with the binary NodeID
// nodeID, gracefully and whatever runs there: NodeInfoGcsService.DrainNode,
// which GcsNodeManager::DrainNode (src/ray/gcs/gcs_node_manager.cc) answers
// by shutting the raylet down. Ray's v2 autoscaler stops every node it
// terminates for a cause other than idleness this way
// (python/ray/autoscaler/v2/instance_manager/subscribers/ray_stopper.py,
// _stop_ray_node) and counts the stop as done when the reply acknowledges
// the node. The GCS acknowledges a node it no longer knows, too.
func (c *Client) StopNode(ctx context.Context, nodeID []byte) (acknowledged bool, err error) {
	if len(nodeID) != NodeIDSize {
		return false, fmt.Errorf("gcs %s: %s: node id has %d bytes, want %d", c.addr, rpcStopNode, len(nodeID), NodeIDSize)
	}
	ctx, cancel := context.WithTimeout(ctx, c.drainTimeout)
	defer cancel()
	reply, err := c.node.DrainNode(ctx, &nodeinfopb.DrainNodeRequest{
		DrainNodeData: []*nodeinfopb.DrainNodeData{{NodeId: nodeID}},
	})
	if err != nil {
		return false, wrapRPCError(c.addr, rpcStopNode, c.token, err)
	}
	if st := reply.GetStatus(); st.GetCode() != 0 {
		return false, fmt.Errorf("gcs %s: %s: status %d: %s", c.addr, rpcStopNode, st.GetCode(), bounded(st.GetMessage()))
	}
	for _, s := range reply.GetDrainNodeStatus() {
		if bytes.Equal(s.GetNodeId(), nodeID) {
			return true, nil
		}
	}
	return false, nil
}
