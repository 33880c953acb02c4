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
// call it, so the two never disagree.
package defaults
