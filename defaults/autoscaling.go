package defaults

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// Values of AnnotationAutoscaling.
const (
	AutoscalingCentral  = "central"
	AutoscalingDisabled = "disabled"
)

// defaultSidecarResources are KubeRay's own defaults for the autoscaler.
var defaultSidecarResources = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("500m"),
	corev1.ResourceMemory: resource.MustParse("512Mi"),
}

// autoscaling performs the hand-off to the central scaler. The mode is
// decided once, at CREATE: with policy mode central an autoscaled cluster
// gets enableInTreeAutoscaling false and the annotation and label
// raypilot.io/autoscaling: central; with mode in-tree only the sidecar's
// defaults are filled; "disabled" leaves the cluster alone. An UPDATE keeps
// the stored object's mode (an annotation dropped by a replace is put back),
// and never hands a cluster created in-tree to the scaler: KubeRay does not
// restart a running head pod, so its autoscaler container would keep
// running beside the scaler. Moving a cluster is the user's explicit step:
// setting the annotation on an UPDATE.
func (c *clusterExpansion) autoscaling() {
	c.labelAutoscaling(c.handOff())
}

// handOff decides the mode as autoscaling describes and reports whether
// the object is handed to the central scaler.
func (c *clusterExpansion) handOff() (central bool) {
	annFld := clusterAnnotations.Key(AnnotationAutoscaling)
	mode, _ := c.annotations[AnnotationAutoscaling].(string)
	eitaFld := c.fld.Child("enableInTreeAutoscaling")
	inTree := c.Boolean(c.spec, "enableInTreeAutoscaling", eitaFld)
	update := c.in.Operation == Update && c.in.OldObject != nil
	if mode == "" && update && c.oldAutoscaling != "" {
		if ann := c.Object(c.meta, "annotations", clusterAnnotations, true); ann != nil {
			mode = c.oldAutoscaling
			ann[AnnotationAutoscaling] = mode
		}
	}
	switch mode {
	case AutoscalingDisabled:
		if inTree {
			c.checkAutoscalerSidecar()
		}
		return false
	case AutoscalingCentral:
	case "":
		if !inTree {
			return false
		}
		if update || c.in.Policy.Defaults.Autoscaling.Mode != ModeCentral {
			c.scalerOptions()
			c.sidecarDefaults()
			c.checkAutoscalerSidecar()
			return false
		}
		ann := c.Object(c.meta, "annotations", clusterAnnotations, true)
		if ann == nil {
			return false
		}
		ann[AnnotationAutoscaling] = AutoscalingCentral
	default:
		c.Errs = append(c.Errs, field.NotSupported(annFld, mode, []string{AutoscalingCentral, AutoscalingDisabled}))
		return false
	}
	if inTree {
		c.spec["enableInTreeAutoscaling"] = false
	}
	c.scalerOptions()
	return true
}

// labelAutoscaling sets LabelAutoscaling on a centrally scaled object.
// Outside spec the expansion only adds, so a stale label on an object
// taken from the scaler stays: the scaler removes it from RayClusters.
func (c *clusterExpansion) labelAutoscaling(central bool) {
	if !central {
		return
	}
	if labels := c.Object(c.meta, "labels", clusterLabels, true); labels != nil {
		labels[LabelAutoscaling] = AutoscalingCentral
	}
}

// scalerOptions fills upscalingMode and idleTimeoutSeconds from the policy.
func (c *clusterExpansion) scalerOptions() {
	a := c.in.Policy.Defaults.Autoscaling
	fld := c.fld.Child("autoscalerOptions")
	opts := c.Object(c.spec, "autoscalerOptions", fld, a.UpscalingMode != "" || a.IdleTimeoutSeconds != nil)
	if opts == nil {
		return
	}
	if a.UpscalingMode != "" {
		setDefault(opts, "upscalingMode", a.UpscalingMode)
	}
	if a.IdleTimeoutSeconds != nil {
		setDefault(opts, "idleTimeoutSeconds", jsontree.FromTyped(*a.IdleTimeoutSeconds))
	}
	if n, ok := c.Integer(opts, "idleTimeoutSeconds", fld.Child("idleTimeoutSeconds")); ok && n < 0 {
		c.Errs = append(c.Errs, field.Invalid(fld.Child("idleTimeoutSeconds"), n, "must be >= 0"))
	}
}

// sidecarDefaults fills the in-tree autoscaler's resources (requests =
// limits) and image (the head's Ray image). A side the user left out copies
// the other; cpu or memory given on neither side gets the default, as the
// KubeRay API server does (apiserver/pkg/util/cluster.go,
// buildAutoscalerOptions: cpu or "500m", memory or "512Mi").
func (c *clusterExpansion) sidecarDefaults() {
	fld := c.fld.Child("autoscalerOptions")
	opts := c.Object(c.spec, "autoscalerOptions", fld, true)
	if opts == nil {
		return
	}
	res := c.Object(opts, "resources", fld.Child("resources"), true)
	if res == nil {
		return
	}
	requests, _ := res["requests"].(obj)
	limits, _ := res["limits"].(obj)
	switch {
	case requests == nil && limits == nil:
		requests, limits = obj{}, obj{}
	case requests == nil:
		requests = jsontree.DeepCopy(limits).(obj)
	case limits == nil:
		limits = jsontree.DeepCopy(requests).(obj)
	}
	want := c.in.Policy.Defaults.Autoscaling.SidecarResources
	if len(want) == 0 {
		want = defaultSidecarResources
	}
	for _, name := range sortedKeys(want) {
		q := want[name]
		_, hasReq := requests[string(name)]
		_, hasLim := limits[string(name)]
		if !hasReq && !hasLim {
			requests[string(name)], limits[string(name)] = q.String(), q.String()
		}
	}
	res["requests"], res["limits"] = requests, limits
	if c.headImage != "" {
		setDefault(opts, "image", c.headImage)
	}
}
