package apiserverconv

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rayService converts a RayService request into a compact RayService
// (KubeRay v1.5.0 apiserver/pkg/util/service.go, NewRayService; checks of
// apiserver/pkg/server/serve_server.go, ValidateCreateServiceRequest). The
// head's serve ports, which the API server added to every RayService
// head, are raypilot's expansion's to add.
func (c *converter) rayService(s *rayServiceReq) Object {
	spec := omap{}
	if s.ServeConfigV2 == "" {
		c.required(field.NewPath("serveConfigV2"), "the Serve config (the API server refused a service without one)")
	}
	spec = spec.with("serveConfigV2", s.ServeConfigV2)
	c.nonNegative(&spec, "serviceUnhealthySecondThreshold", s.ServiceUnhealthySecondThreshold)
	c.nonNegative(&spec, "deploymentUnhealthySecondThreshold", s.DeploymentUnhealthySecondThreshold)
	cluster, annotations := c.clusterSpec(s.ClusterSpec, field.NewPath("clusterSpec"), s.Version, nil)
	spec = spec.with("rayClusterConfig", cluster)
	meta := c.metadata(s.Name, s.Namespace, ownerLabels(s.User, ""), annotations)
	return Object{value: rayObject("RayService", meta, spec)}
}
