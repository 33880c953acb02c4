// Package defaults is raypilot's pure expansion and validation engine.
//
// Expand turns a compact RayCluster, RayJob or RayService (compute-template
// references, compact volumes, autoscaling options, cluster-wide policy) into
// full pod templates, or returns every problem as a field error. It works on
// raw JSON so that fields it does not know pass through untouched, never
// overwrites what the user wrote (except fields the policy enforces), and is
// idempotent: Expand(Expand(x)) == Expand(x) byte for byte.
//
// The package does no I/O: templates come in through TemplateSource and the
// policy as a parsed Policy. The admission webhook and `raypilot expand` both
// call it, so the two never disagree. The order of the expansion steps and
// the precedence they implement are in pipeline.go (clusterExpansion.run);
// what the policy can enforce is the table in policyfields.go.
//
// # Rules
//
// Every expansion and validation rule, one a line, with the golden cases
// that show it in brackets (testdata/expand/NAME.yaml, its policy in
// NAME.policy.yaml, its output in NAME.golden; NAME* names every case
// starting with NAME). TestDocRules fails when a rule names no case or a
// case is named by no rule.
//
//   - a compact cluster gets a Ray container per group, the image from spec.rayVersion, the compute template's resources (requests = limits), KubeRay's head ports, MY_POD_IP, the workers' resource env and `ray stop` preStop, replicas from minReplicas [seed]
//   - fill-only: what the user wrote is never overwritten (enforced fields aside); sidecars never get template resources; existing volumes, mounts, env, ports and preStop stay [user-fields-kept]
//   - fields the engine does not know (newer KubeRay's, anyone's) pass through untouched [unknown-fields]
//   - templates are looked up as ComputeTemplate in the namespace, then API-server ConfigMap, then ClusterComputeTemplate; a group's reference beats the cluster's [template-lookup]
//   - a template that is not found names what was searched and lists what exists; another namespace is never searched [err-missing-template]
//   - an API-server ConfigMap template reads integers with memory_unit, tolerations in the API server's shape and extended resources as JSON [configmap-template]
//   - a template's gpu count goes to nvidia.com/gpu (or its gpuAccelerator) in requests and limits [gpu-template]
//   - policy defaults fill what the user and the template leave unset; the template's tolerations and nodeSelector come first [policy-defaults]
//   - an enforced field replaces what the user and the template wrote (the container security context on every container, sidecars included); each enforceable field has a case [policy-enforce*]
//   - the built-in env comes before the user's, so the user's can refer to it; a name the user set keeps the user's value [env-reference]
//   - the head gets KubeRay's default ports following rayStartParams (serve included, dashboard-agent for serve clusters); a RayService with its own serveService may leave serve out [serve]
//   - compact volumes of every type become volumes and mounts; a group's volumes add to and override the cluster's by name [volumes]
//   - Bidirectional mount propagation needs a privileged container [volumes]
//   - KubeRay's in-tree autoscaler sidecar gets requests = limits, KubeRay's defaults where neither side is given, and the head's image [autoscaler-sidecar, seed]
//   - policy autoscaling mode central switches the in-tree sidecar off and records raypilot.io/autoscaling: central as an annotation and a label [central-autoscaling]
//   - a RayJob's rayClusterSpec and a RayService's rayClusterConfig expand like a RayCluster, with the annotations of their own metadata [rayjob-rayservice]
//   - a RayJob's submitter pod is held to the policy: KubeRay's default one is written out when the policy sets anything on pods; clusterSelector jobs too; HTTPMode has none [rayjob-submitter, rayjob-submitter-service-account]
//   - a submitter pod outside the policy's limits is refused like any Ray pod [err-rayjob-submitter]
//   - a RayCluster's name is a DNS-1035 label of at most 53 characters [err-name, err-replicas]
//   - a Ray container needs an image, or spec.rayVersion for the policy's image pattern [err-no-image]
//   - worker groups have unique DNS-1123 names; replicas within minReplicas..maxReplicas; policy maxReplicasPerGroup; every problem reported at once [err-replicas]
//   - a value of the wrong type is an error naming its field, never a crash [err-types]
//   - KubeRay's own spec rules (no rayStartParams labels, resources either in rayStartParams or the group's resources) and the raypilot.io/autoscaling values are checked at admission [err-kuberay-rules]
//   - policy limits bound each pod's CPU, memory and GPUs and the images' prefixes; rayStartParams values must be strings [err-limits]
//   - a serve cluster's head that lists its own ports needs one named serve [err-serve-port]
//   - a compact volume needs a known type, an absolute mountPath, its source or storage and a unique name; an annotation that is not a list is an error [err-volumes]
//   - an unknown compact volume key is an error naming the key [err-volumes-unknown-key]
//   - likely mistakes are warnings: num-gpus disagreeing with the template, num-cpus above the CPU limit, a GPU resource Ray does not detect [warnings]
package defaults
