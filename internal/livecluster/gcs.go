package livecluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// GCSState is what one cluster's GCS said.
type GCSState struct {
	// Compat is what its Ray version allows the scaler
	// (gcs.CheckRayVersion); the scaler leaves an unsupported cluster alone.
	Compat gcs.Compatibility
	// State is its ClusterResourceState: nodes and pending demand.
	State *rpcpb.ClusterResourceState
}

// ReadGCS dials the GCS at addr with opts and asks, as a scaler round does
// first, its Ray version (CheckAlive) and its ClusterResourceState. These
// are its only calls: nothing is reported and nothing drained.
func ReadGCS(ctx context.Context, addr string, opts gcs.Options) (GCSState, error) {
	c, err := gcs.Dial(ctx, addr, opts)
	if err != nil {
		return GCSState{}, err
	}
	defer func() { _ = c.Close() }()
	version, err := c.RayVersion(ctx)
	switch {
	case errors.Is(err, gcs.ErrUnsupportedRay):
		version = "" // a GCS without CheckAlive predates every supported release, as the scaler reads it
	case err != nil:
		return GCSState{}, fmt.Errorf("ask the Ray version: %w", err)
	}
	compat := gcs.CheckRayVersion(version)
	st, err := c.GetClusterResourceState(ctx)
	switch {
	case err != nil && !compat.Supported:
		return GCSState{Compat: compat}, fmt.Errorf("read the cluster state: %w (the scaler leaves this cluster alone anyway: %s)", err, compat.Reason)
	case err != nil:
		return GCSState{Compat: compat}, fmt.Errorf("read the cluster state: %w", err)
	}
	return GCSState{Compat: compat, State: st}, nil
}
