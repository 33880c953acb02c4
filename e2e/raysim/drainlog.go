package raysim

import "time"

// RPC names in the drain record.
const (
	rpcAutoscalerDrain = "AutoscalerStateService.DrainNode"
	rpcNodeInfoDrain   = "NodeInfoGcsService.DrainNode"
)

// Results in the drain record.
const (
	drainAccepted     = "accepted"
	drainRejected     = "rejected"
	drainFailed       = "error"
	drainAcknowledged = "acknowledged" // the legacy DrainNode acknowledges every node
)

// drainCall is one node of one DrainNode call that reached the GCS.
// Calls refused before the handler (a cluster fault, a missing token) are
// not recorded: the GCS never saw them.
type drainCall struct {
	Time                time.Time `json:"time"`
	RPC                 string    `json:"rpc"`
	NodeID              string    `json:"nodeId"`
	Pod                 string    `json:"pod,omitempty"` // "" for a node the GCS does not know
	NodeKnown           string    `json:"nodeKnown"`     // "alive", "dead" or "unknown"
	Reason              string    `json:"reason,omitempty"`
	ReasonMessage       string    `json:"reasonMessage,omitempty"`
	DeadlineTimestampMs int64     `json:"deadlineTimestampMs,omitempty"`
	Result              string    `json:"result"`
	Code                string    `json:"code"`              // the gRPC status code
	Message             string    `json:"message,omitempty"` // the rejection reason or error
	Fault               string    `json:"fault,omitempty"`   // the drain fault that failed the call
}

// recordDrain appends to the cluster's drain record; c.mu held.
func (c *cluster) recordDrain(d drainCall) {
	c.drainCalls = append(c.drainCalls, d)
	if len(c.drainCalls) > maxDrainCalls {
		c.drainCalls = append([]drainCall(nil), c.drainCalls[len(c.drainCalls)-maxDrainCalls:]...)
	}
}
