// Package livecluster reads what the scaler reads about one RayCluster for
// one round, from a live Kubernetes cluster and the cluster's Ray GCS,
// without changing anything: the RayCluster and its pods through the API
// server, and the Ray version and ClusterResourceState from the GCS, reached
// through a port-forward to the head pod or a proxy address. It never
// reports an autoscaling state to the GCS and never drains a node: it backs
// `raypilot plan --cluster`, which explains the decision the scaler would
// make without making it.
package livecluster
