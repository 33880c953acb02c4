package scaler

import (
	"context"
	"fmt"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/defaults"
)

// syncLabel keeps defaults.LabelAutoscaling in step with the annotation
// that opts a cluster in, so that `kubectl get raycluster -l
// raypilot.io/autoscaling=central` lists the clusters the scaler manages:
// a managed cluster without it (annotated by hand, or expanded before the
// webhook wrote the label) gets it, and a cluster whose annotation no
// longer says central loses it. The webhook only ever adds the label. One
// minimal merge patch, unguarded: it touches nothing the scaler decides
// on. It returns the patched object, so that the round's guarded patch
// starts from its resourceVersion, or rc. rc is the cache's own (read
// without a deep copy) and is never written: the patch's reply is decoded
// into a copy. A failure is logged and the round goes on: the label only
// lists clusters.
func (r *Reconciler) syncLabel(ctx context.Context, rc *rayv1.RayCluster, managed bool, log *zap.Logger) *rayv1.RayCluster {
	value, labelled := rc.Labels[defaults.LabelAutoscaling]
	switch {
	case managed && value != defaults.AutoscalingCentral:
	case !managed && labelled && rc.DeletionTimestamp == nil:
	default:
		return rc
	}
	patched := rc.DeepCopy()
	if err := r.Client.Patch(ctx, patched, client.RawPatch(types.MergePatchType, labelPatch(managed))); err != nil {
		log.Warn("cannot update the label "+defaults.LabelAutoscaling, zap.Bool("managed", managed), zap.Error(err))
		return rc
	}
	log.Info("label "+defaults.LabelAutoscaling+" updated", zap.Bool("managed", managed))
	return patched
}

// labelPatch is the JSON merge patch (RFC 7386) setting the label to
// central, or removing it.
func labelPatch(central bool) []byte {
	value := "null"
	if central {
		value = fmt.Sprintf("%q", defaults.AutoscalingCentral)
	}
	return fmt.Appendf(nil, `{"metadata":{"labels":{%q:%s}}}`, defaults.LabelAutoscaling, value)
}

// watched tells the RayClusters the scaler reconciles: those opted in, and
// those still labelled after opting out, to remove the label.
func watched(o client.Object) bool {
	if o.GetAnnotations()[defaults.AnnotationAutoscaling] == defaults.AutoscalingCentral {
		return true
	}
	_, labelled := o.GetLabels()[defaults.LabelAutoscaling]
	return labelled
}
