package defaults

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// Pod Security Standards levels of PolicyLimits.PodSecurity.
const (
	PodSecurityBaseline   = string(psaapi.LevelBaseline)
	PodSecurityRestricted = string(psaapi.LevelRestricted)
)

// podSecurityEvaluator holds the Kubernetes Pod Security Standards checks
// (k8s.io/pod-security-admission, the code the API server's PodSecurity
// admission runs); built once per process, it is read-only.
var podSecurityEvaluator = func() psapolicy.Evaluator {
	e, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("pod security checks: %v", err))
	}
	return e
}()

// checkPodSecurity holds a pod template (plus the containers KubeRay adds
// to it, such as the in-tree autoscaler) to limits.podSecurity: the same
// checks, at the latest version, as a namespace labelled
// pod-security.kubernetes.io/enforce=<level>, so a Ray object whose pods
// would be refused is refused at admission instead.
func (c *clusterExpansion) checkPodSecurity(spec obj, fld *field.Path, extra ...corev1.Container) {
	level := c.in.Policy.Limits.PodSecurity
	if level == "" || spec == nil {
		return
	}
	data, err := jsontree.Encode(spec)
	if err != nil {
		return
	}
	var ps corev1.PodSpec
	if err := json.Unmarshal(data, &ps); err != nil {
		return // a field of the wrong type, reported where it is
	}
	ps.Containers = append(ps.Containers, extra...)
	lv := psaapi.LevelVersion{Level: psaapi.Level(level), Version: psaapi.LatestVersion()}
	res := psapolicy.AggregateCheckResults(podSecurityEvaluator.EvaluatePod(lv, &metav1.ObjectMeta{}, &ps))
	if !res.Allowed {
		c.Errs = append(c.Errs, field.Forbidden(fld, fmt.Sprintf("violates PodSecurity %q (policy limits.podSecurity): %s", level+":latest", res.ForbiddenDetail())).WithOrigin(OriginPolicy))
	}
}
