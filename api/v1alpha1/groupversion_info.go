// Package v1alpha1 holds raypilot's compute-template API: ComputeTemplate
// (namespaced) and ClusterComputeTemplate (cluster-scoped, admin-owned).
//
// +kubebuilder:object:generate=true
// +groupName=raypilot.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of raypilot's own types.
	GroupVersion = schema.GroupVersion{Group: "raypilot.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
