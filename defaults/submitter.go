package defaults

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SubmitterContainerName is the container KubeRay v1.5.0 gives the default
// RayJob submitter pod (ray-operator/controllers/ray/utils/constant.go).
const SubmitterContainerName = "ray-job-submitter"

// submitter holds a RayJob's submitter pod to the policy like any Ray pod.
// In K8sJobMode (the default) KubeRay runs `ray job submit` in a pod built
// from spec.submitterPodTemplate, or, without one, from its default
// (ray-operator/controllers/ray/common/job.go, GetSubmitterTemplate: one
// container with the head's image, 500m/200Mi requests, 1/1Gi limits,
// restartPolicy Never). When the policy has something to say about pods,
// that default is written out so enforcement, defaults and limits reach it.
func (c *clusterExpansion) submitter(jobSpec obj, jobFld *field.Path) {
	switch mode, _ := jobSpec["submissionMode"].(string); mode {
	case "", "K8sJobMode":
	default:
		return // HTTPMode and InteractiveMode run no submitter pod; SidecarMode runs it in the head pod
	}
	fld := jobFld.Child("submitterPodTemplate")
	if _, present := jobSpec["submitterPodTemplate"]; !present || jobSpec["submitterPodTemplate"] == nil {
		if !c.in.Policy.actsOnPods() {
			return
		}
		image := c.headImage
		if image == "" {
			var ok bool
			if image, ok = c.imageFor(); !ok {
				c.warn("%s: KubeRay's default submitter pod takes the image of the cluster's head, which is not known here; the policy's pod rules cannot be applied to it: write spec.submitterPodTemplate", fld)
				return
			}
		}
		jobSpec["submitterPodTemplate"] = obj{"spec": obj{
			"restartPolicy": "Never",
			"containers": []any{obj{
				"name":  SubmitterContainerName,
				"image": image,
				"resources": obj{
					"limits":   obj{"cpu": "1", "memory": "1Gi"},
					"requests": obj{"cpu": "500m", "memory": "200Mi"},
				},
			}},
		}}
	}
	tmpl := c.Object(jobSpec, "submitterPodTemplate", fld, false)
	if tmpl == nil {
		return
	}
	meta := c.Object(tmpl, "metadata", fld.Child("metadata"), false)
	specFld := fld.Child("spec")
	pspec := c.Object(tmpl, "spec", specFld, false)
	containers, ok := c.List(pspec, "containers", specFld.Child("containers"))
	if pspec == nil || !ok || len(containers) == 0 {
		return // the CRD and KubeRay require a container; nothing to hold
	}
	c0, ok := containers[0].(obj)
	if !ok {
		c.Errs = append(c.Errs, field.Invalid(specFld.Child("containers").Index(0), containers[0], "must be an object"))
		return
	}
	// The submitter pod has no group (g nil): rayStartParams rules skip it.
	p := podTemplate{fld: fld, tmpl: tmpl, meta: meta, metaFld: fld.Child("metadata"), spec: pspec, specFld: specFld, containers: containers,
		ray: c0, rayFld: specFld.Child("containers").Index(0), isSubmitter: true}
	c.applyPolicyDefaults(&p)
	c.enforcePolicy(&p)
	c.checkPod(&p)
}

// actsOnPods reports whether the policy sets anything on or bounds pods.
func (p *Policy) actsOnPods() bool {
	if len(p.Enforce) > 0 {
		return true
	}
	for _, f := range policyFields {
		if f.pod && f.set(&p.Defaults) {
			return true
		}
	}
	l := p.Limits
	return l.MaxCPUPerPod != nil || l.MaxMemoryPerPod != nil || l.MaxGPUPerPod != nil || len(l.AllowedImagePrefixes) > 0 ||
		l.PodSecurity != ""
}
