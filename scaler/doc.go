// Package scaler is raypilot's central autoscaler: for every RayCluster
// annotated raypilot.io/autoscaling: central it reads the Ray GCS state,
// asks the pure engine (scaler/engine) for a plan, drains idle nodes through
// Ray and patches worker replicas (scaler/internal/actuator). This package holds the
// I/O glue: conversions, the controller loop, GCS connections, metrics, and
// the label raypilot.io/autoscaling: central that lists the managed
// clusters (label.go).
package scaler
