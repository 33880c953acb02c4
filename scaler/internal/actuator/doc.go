// Package actuator carries out the scaler engine's plans on one RayCluster:
// it drains Ray nodes through the GCS before their pods are removed, lists
// only pods it verified to belong to the cluster and group, and writes each
// decision as one JSON patch guarded by test operations.
package actuator
