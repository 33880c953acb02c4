package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ComputeTemplateSpec is the size and placement of one Ray pod. It mirrors the
// KubeRay API server's compute template, with Kubernetes quantities instead of
// whole numbers so that "500m" and "1.5Gi" work.
type ComputeTemplateSpec struct {
	// CPU is the Ray container's CPU request and limit.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="cpu must be greater than 0"
	CPU resource.Quantity `json:"cpu"`

	// Memory is the Ray container's memory request and limit.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="memory must be greater than 0"
	Memory resource.Quantity `json:"memory"`

	// GPU is the number of GPUs requested and limited under GPUAccelerator.
	// +kubebuilder:validation:Minimum=0
	// +optional
	GPU int32 `json:"gpu,omitempty"`

	// GPUAccelerator is the extended-resource name of the GPU; default nvidia.com/gpu.
	// +optional
	GPUAccelerator string `json:"gpuAccelerator,omitempty"`

	// ExtendedResources are further extended resources (for example
	// example.com/fpga) set as both request and limit.
	// +optional
	ExtendedResources map[corev1.ResourceName]resource.Quantity `json:"extendedResources,omitempty"`

	// Tolerations are appended to the pod's tolerations when not already present.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// NodeSelector keys are added to the pod's nodeSelector when absent.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// ComputeTemplate is a namespaced compute template, referenced from Ray
// clusters in the same namespace through the ray.io/compute-template annotation.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=ct,categories=raypilot
// +kubebuilder:printcolumn:name="CPU",type=string,JSONPath=`.spec.cpu`
// +kubebuilder:printcolumn:name="MEMORY",type=string,JSONPath=`.spec.memory`
// +kubebuilder:printcolumn:name="GPU",type=integer,JSONPath=`.spec.gpu`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ComputeTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ComputeTemplateSpec `json:"spec"`
}

// ComputeTemplateList is a list of ComputeTemplates.
//
// +kubebuilder:object:root=true
type ComputeTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ComputeTemplate `json:"items"`
}

// ClusterComputeTemplate is a cluster-scoped compute template owned by
// administrators; every namespace may reference it.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cct,categories=raypilot
// +kubebuilder:printcolumn:name="CPU",type=string,JSONPath=`.spec.cpu`
// +kubebuilder:printcolumn:name="MEMORY",type=string,JSONPath=`.spec.memory`
// +kubebuilder:printcolumn:name="GPU",type=integer,JSONPath=`.spec.gpu`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterComputeTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ComputeTemplateSpec `json:"spec"`
}

// ClusterComputeTemplateList is a list of ClusterComputeTemplates.
//
// +kubebuilder:object:root=true
type ClusterComputeTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterComputeTemplate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ComputeTemplate{}, &ComputeTemplateList{}, &ClusterComputeTemplate{}, &ClusterComputeTemplateList{})
}
