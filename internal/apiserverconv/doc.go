// Package apiserverconv converts the requests of the KubeRay API server
// (v1, as of KubeRay v1.5.0: proto/config.proto ComputeTemplate,
// proto/cluster.proto Cluster, proto/job.proto RayJob, proto/serve.proto
// RayService) into the compact objects raypilot expands: a ComputeTemplate
// per compute template, and RayClusters, RayJobs and RayServices naming
// their templates and carrying their volumes in raypilot's annotations.
//
// Every field the API server used is converted the way it built the
// KubeRay object from it (apiserver/pkg/util/cluster.go, job.go,
// service.go), so that raypilot's expansion of the result stores what the
// API server stored, apart from the differences docs/kuberay-apiserver.md
// lists. A field that cannot be converted, a field the API server would
// have discarded as unknown, and a value of the wrong type are errors
// naming the field; a field converted with a change, or left out because
// the API server ignored it too, is a warning naming it.
//
// The package does no I/O: `raypilot convert` reads the files.
package apiserverconv
