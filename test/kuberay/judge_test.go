package kuberay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/common"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	sigsjson "sigs.k8s.io/json"

	"github.com/raypilot/raypilot/internal/crdschema"
)

// clusterSuffix stands for the five random characters
// utils.GenerateRayClusterName appends to a RayJob's or RayService's name,
// fixed so that every run names the same objects.
const clusterSuffix = "k8x2q"

var quietOnce sync.Once

// quietContext is a context whose logger discards: KubeRay's builders log
// every pod they build.
func quietContext() context.Context {
	// Some KubeRay paths log through the global logger; without one set,
	// controller-runtime complains on stderr.
	quietOnce.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	return ctrllog.IntoContext(context.Background(), logr.Discard())
}

// judge collects what KubeRay's code says about one object, and the pods
// it built.
type judge struct {
	ctx      context.Context
	problems []string
	pods     []builtPod
}

// builtPod is a pod KubeRay's code built from an admitted object.
type builtPod struct {
	what string
	pod  *corev1.Pod
}

func (j *judge) fail(format string, args ...any) {
	j.problems = append(j.problems, fmt.Sprintf(format, args...))
}

// kindOf reads the kind of a JSON object ("" when there is none).
func kindOf(data []byte) string {
	var head struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(data, &head)
	return head.Kind
}

// stored returns data as the apiserver stores a CREATE of it: the CRD's
// problems with it (the apiserver would reject it), else the object pruned
// and defaulted by the CRD's schema.
func stored(data []byte) ([]byte, crdschema.Problems, error) {
	v, err := crdschema.For(kindOf(data))
	if err != nil {
		return nil, crdschema.Problems{}, err
	}
	p, err := v.CheckJSON(data)
	if err != nil || len(p.Errors) > 0 {
		return nil, p, err
	}
	out, err := v.Decode(data)
	return out, p, err
}

// object is a decoded RayCluster, RayJob or RayService; exactly one is set.
type object struct {
	cluster *rayv1.RayCluster
	job     *rayv1.RayJob
	service *rayv1.RayService
}

// decodeObject decodes a stored object strictly into KubeRay's v1 types.
func decodeObject(data []byte) (object, error) {
	var o object
	var into any
	switch kind := kindOf(data); kind {
	case "RayCluster":
		o.cluster = &rayv1.RayCluster{}
		into = o.cluster
	case "RayJob":
		o.job = &rayv1.RayJob{}
		into = o.job
	case "RayService":
		o.service = &rayv1.RayService{}
		into = o.service
	default:
		return o, fmt.Errorf("kind %q is not a KubeRay kind", kind)
	}
	strict, err := sigsjson.UnmarshalStrict(data, into)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return o, fmt.Errorf("does not decode into rayv1 types: %w", err)
	}
	return o, nil
}

// defaultNamespace gives an object without a namespace the one `raypilot
// expand` assumes and kubectl applies it to.
func (o object) defaultNamespace() {
	var meta *metav1.ObjectMeta
	switch {
	case o.cluster != nil:
		meta = &o.cluster.ObjectMeta
	case o.job != nil:
		meta = &o.job.ObjectMeta
	case o.service != nil:
		meta = &o.service.ObjectMeta
	}
	if meta != nil && meta.Namespace == "" {
		meta.Namespace = "default"
	}
}

// validate runs the validators the KubeRay operator runs before it builds
// anything: those of the object's own controller, then, for a RayJob or
// RayService, those the RayCluster controller runs on the cluster it makes.
// An object that fails them gets no pods.
func (o object) validate() []string {
	var problems []string
	check := func(fn string, err error) {
		if err != nil {
			problems = append(problems, fmt.Sprintf("utils.%s: %v", fn, err))
		}
	}
	switch {
	case o.cluster != nil:
		rc := o.cluster.DeepCopy()
		setDefaults(rc)
		check("ValidateRayClusterMetadata", utils.ValidateRayClusterMetadata(rc.ObjectMeta))
		check("ValidateRayClusterSpec", utils.ValidateRayClusterSpec(&rc.Spec, rc.Annotations))
	case o.job != nil:
		check("ValidateRayJobMetadata", utils.ValidateRayJobMetadata(o.job.ObjectMeta))
		check("ValidateRayJobSpec", utils.ValidateRayJobSpec(o.job))
	case o.service != nil:
		check("ValidateRayServiceMetadata", utils.ValidateRayServiceMetadata(o.service.ObjectMeta))
		check("ValidateRayServiceSpec", utils.ValidateRayServiceSpec(o.service))
	}
	if len(problems) > 0 {
		return problems
	}
	if rc := o.managedCluster(); rc != nil && o.cluster == nil {
		setDefaults(rc)
		check("ValidateRayClusterMetadata", utils.ValidateRayClusterMetadata(rc.ObjectMeta))
		check("ValidateRayClusterSpec", utils.ValidateRayClusterSpec(&rc.Spec, rc.Annotations))
	}
	return problems
}

// managedCluster is the RayCluster the operator reconciles for o: the
// RayCluster itself, or the one a RayJob or RayService controller creates
// (constructRayClusterForRayJob / constructRayClusterForRayService in
// v1.5.0, minus owner references and the RayService's spec hashes), nil for
// a RayJob that selects an existing cluster.
func (o object) managedCluster() *rayv1.RayCluster {
	switch {
	case o.cluster != nil:
		return o.cluster.DeepCopy()
	case o.job != nil:
		if o.job.Spec.RayClusterSpec == nil {
			return nil
		}
		rc := &rayv1.RayCluster{
			ObjectMeta: metav1.ObjectMeta{
				Name: o.job.Name + "-" + clusterSuffix, Namespace: o.job.Namespace,
				Labels:      originLabels(o.job.Labels, o.job.Name, utils.RayJobCRD),
				Annotations: maps.Clone(o.job.Annotations),
			},
			Spec: *o.job.Spec.RayClusterSpec.DeepCopy(),
		}
		return rc
	case o.service != nil:
		annotations := maps.Clone(o.service.Annotations)
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[utils.KubeRayVersion] = utils.KUBERAY_VERSION
		return &rayv1.RayCluster{
			ObjectMeta: metav1.ObjectMeta{
				Name: o.service.Name + "-" + clusterSuffix, Namespace: o.service.Namespace,
				Labels:      originLabels(o.service.Labels, o.service.Name, utils.RayServiceCRD),
				Annotations: annotations,
			},
			Spec: *o.service.Spec.RayClusterSpec.DeepCopy(),
		}
	}
	return nil
}

func originLabels(labels map[string]string, name string, crd utils.CRDType) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[utils.RayOriginatedFromCRNameLabelKey] = name
	out[utils.RayOriginatedFromCRDLabelKey] = utils.RayOriginatedFromCRDLabelValue(crd)
	return out
}

// setDefaults is the RayCluster controller's setDefaults (v1.5.0), run on
// every reconcile before validation.
func setDefaults(rc *rayv1.RayCluster) {
	if rc.Spec.HeadGroupSpec.RayStartParams == nil {
		rc.Spec.HeadGroupSpec.RayStartParams = map[string]string{}
	}
	for i := range rc.Spec.WorkerGroupSpecs {
		if rc.Spec.WorkerGroupSpecs[i].RayStartParams == nil {
			rc.Spec.WorkerGroupSpecs[i].RayStartParams = map[string]string{}
		}
	}
}

// judgeObject is what KubeRay v1.5.0 says about one expanded object (JSON):
// one line per problem, naming the KubeRay function and what it said; none
// when the apiserver stores it and the operator validates it and builds its
// pods and Services without error, and what it built keeps the expansion's
// meaning.
func judgeObject(data []byte) []string {
	problems, _ := judgeAndBuild(data)
	return problems
}

// judgeAndBuild is judgeObject, also returning every pod KubeRay built:
// head (with the in-tree autoscaler), one per worker group, the RayJob
// submitter.
func judgeAndBuild(data []byte) ([]string, []builtPod) {
	j := &judge{ctx: quietContext()}
	problems := j.run(data)
	return problems, j.pods
}

func (j *judge) run(data []byte) []string {
	s, p, err := stored(data)
	if err != nil {
		return []string{err.Error()}
	}
	if len(p.Errors) > 0 {
		return []string{"the KubeRay v1.5.0 CRD rejects it (the apiserver would): " + strings.TrimSpace(p.String())}
	}
	o, err := decodeObject(s)
	if err != nil {
		return []string{err.Error()}
	}
	o.defaultNamespace()
	if problems := o.validate(); len(problems) > 0 {
		return problems
	}
	switch {
	case o.cluster != nil:
		j.cluster(o.managedCluster())
	case o.job != nil:
		j.rayJob(o.job)
	case o.service != nil:
		j.rayService(o.service)
	}
	return j.problems
}

// rayJob is what the RayJob controller builds: the cluster (with the
// submitter sidecar in SidecarMode), the job's head Service and the
// submitter pod template (K8sJobMode).
func (j *judge) rayJob(job *rayv1.RayJob) {
	rc := object{job: job}.managedCluster()
	if rc == nil {
		return // clusterSelector: the cluster is not built from this object
	}
	mode := job.Spec.SubmissionMode
	if mode == "" {
		mode = rayv1.K8sJobMode
	}
	if mode == rayv1.SidecarMode {
		// getSubmitterContainer + configureSubmitterContainer (rayjob_controller.go).
		c := common.GetDefaultSubmitterContainer(&rc.Spec)
		if _, err := common.BuildJobSubmitCommand(job, rayv1.SidecarMode); err != nil {
			j.fail("common.BuildJobSubmitCommand (SidecarMode): %v", err)
		}
		if c.Image == "" {
			j.fail("common.GetDefaultSubmitterContainer: the submitter sidecar has no image (it takes the head's)")
		}
		rc.Spec.HeadGroupSpec.Template.Spec.Containers = append(rc.Spec.HeadGroupSpec.Template.Spec.Containers, c)
		rc.Spec.HeadGroupSpec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	head := j.cluster(rc)
	svc, err := common.BuildHeadServiceForRayJob(j.ctx, *job, *rc)
	j.headService("common.BuildHeadServiceForRayJob", svc, err, head)
	if mode == rayv1.K8sJobMode {
		j.submitter(job, rc)
	}
}

// submitter is the RayJob controller's getSubmitterTemplate (K8sJobMode):
// the job's spec.submitterPodTemplate, or KubeRay's default one, its first
// container configured by configureSubmitterContainer; the pod the
// submitter Job runs, checked like the Ray pods (judge.pod).
func (j *judge) submitter(job *rayv1.RayJob, rc *rayv1.RayCluster) {
	const what = "common.GetSubmitterTemplate + common.BuildJobSubmitCommand (submitter pod)"
	tmpl := common.GetSubmitterTemplate(&job.Spec, &rc.Spec)
	if len(tmpl.Spec.Containers) == 0 {
		j.fail("%s: the submitter pod template has no container", what)
		return
	}
	c := &tmpl.Spec.Containers[utils.RayContainerIndex]
	cmd, err := common.BuildJobSubmitCommand(job, rayv1.K8sJobMode)
	if err != nil {
		j.fail("%s: %v", what, err)
		return
	}
	if len(c.Command) == 0 {
		c.Command = utils.GetContainerCommand([]string{"e"})
		c.Args = []string{strings.Join(cmd, " ")}
	}
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "PYTHONUNBUFFERED", Value: "1"},
		corev1.EnvVar{Name: utils.RAY_DASHBOARD_ADDRESS, Value: job.Status.DashboardURL},
		corev1.EnvVar{Name: utils.RAY_JOB_SUBMISSION_ID, Value: job.Status.JobId})
	written := tmpl
	if job.Spec.SubmitterPodTemplate != nil {
		written = *job.Spec.SubmitterPodTemplate
	}
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	j.pods = append(j.pods, builtPod{what, pod})
	j.pod(what, written, pod)
}

// rayService is what the RayService controller builds: the cluster, the
// service's head Service and its serve Service.
func (j *judge) rayService(svc *rayv1.RayService) {
	rc := object{service: svc}.managedCluster()
	head := j.cluster(rc)
	hs, err := common.BuildHeadServiceForRayService(j.ctx, *svc, *rc)
	j.headService("common.BuildHeadServiceForRayService", hs, err, head)
	ss, err := common.BuildServeServiceForRayService(j.ctx, *svc, *rc)
	j.serveService("common.BuildServeServiceForRayService", ss, err, rc, head)
}

// cluster is what the RayCluster controller builds for rc: the head
// Service, the serve Service when rc is annotated for one, the head pod and
// a pod of every worker group. It returns the head pod (nil when it could
// not be built).
func (j *judge) cluster(rc *rayv1.RayCluster) *corev1.Pod {
	setDefaults(rc)
	head := j.headPod(rc)
	for i := range rc.Spec.WorkerGroupSpecs {
		j.workerPod(rc, i)
	}
	// reconcileHeadService (raycluster_controller.go).
	labels := map[string]string{}
	if v, ok := rc.Spec.HeadGroupSpec.Template.Labels[utils.KubernetesApplicationNameLabelKey]; ok {
		labels[utils.KubernetesApplicationNameLabelKey] = v
	}
	annotations := maps.Clone(rc.Spec.HeadServiceAnnotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	svc, err := common.BuildServiceForHeadPod(j.ctx, *rc.DeepCopy(), labels, annotations)
	j.headService("common.BuildServiceForHeadPod", svc, err, head)
	// reconcileServeService.
	if rc.Annotations[utils.EnableServeServiceKey] == utils.EnableServeServiceTrue {
		ss, err := common.BuildServeServiceForRayCluster(j.ctx, *rc.DeepCopy())
		j.serveService("common.BuildServeServiceForRayCluster", ss, err, rc, head)
	}
	return head
}

// buildPod runs f, turning a panic into a problem.
func (j *judge) buildPod(what string, f func() corev1.Pod) (pod *corev1.Pod) {
	defer func() {
		if r := recover(); r != nil {
			j.fail("%s panics: %v", what, r)
			pod = nil
		}
	}()
	p := f()
	return &p
}

// headPod is the RayCluster controller's buildHeadPod.
func (j *judge) headPod(cluster *rayv1.RayCluster) *corev1.Pod {
	rc := cluster.DeepCopy() // the builders write into the spec's maps
	podName := utils.PodName(rc.Name, rayv1.HeadNode, !utils.IsDeterministicHeadPodNameEnabled())
	fqdn := utils.GenerateFQDNServiceName(j.ctx, *rc, rc.Namespace)
	headPort := common.GetHeadPort(rc.Spec.HeadGroupSpec.RayStartParams)
	autoscaling := utils.IsAutoscalingEnabled(&rc.Spec)
	creator := utils.GetCRDType(rc.Labels[utils.RayOriginatedFromCRDLabelKey])
	what := "common.DefaultHeadPodTemplate + common.BuildPod (head)"
	pod := j.buildPod(what, func() corev1.Pod {
		tmpl := common.DefaultHeadPodTemplate(j.ctx, *rc, rc.Spec.HeadGroupSpec, podName, headPort)
		return common.BuildPod(j.ctx, tmpl, rayv1.HeadNode, rc.Spec.HeadGroupSpec.RayStartParams, headPort, autoscaling, creator, fqdn, nil)
	})
	if pod == nil {
		return nil
	}
	j.pods = append(j.pods, builtPod{what, pod})
	j.pod(what, cluster.Spec.HeadGroupSpec.Template, pod)
	j.rayPod(what, pod, cluster.Name, rayv1.HeadNode, utils.RayNodeHeadGroupLabelValue)
	hasAutoscaler := slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == common.AutoscalerContainerName })
	if hasAutoscaler != autoscaling {
		j.fail("%s: autoscaler sidecar present %v, enableInTreeAutoscaling %v", what, hasAutoscaler, autoscaling)
	}
	return pod
}

// workerPod is the RayCluster controller's buildWorkerPod for group i.
func (j *judge) workerPod(cluster *rayv1.RayCluster, i int) {
	rc := cluster.DeepCopy()
	wg := rc.Spec.WorkerGroupSpecs[i]
	podName := utils.PodName(fmt.Sprintf("%s-%s", rc.Name, wg.GroupName), rayv1.WorkerNode, true)
	fqdn := utils.GenerateFQDNServiceName(j.ctx, *rc, rc.Namespace)
	headPort := common.GetHeadPort(rc.Spec.HeadGroupSpec.RayStartParams)
	autoscaling := utils.IsAutoscalingEnabled(&rc.Spec)
	creator := utils.GetCRDType(rc.Labels[utils.RayOriginatedFromCRDLabelKey])
	what := fmt.Sprintf("common.DefaultWorkerPodTemplate + common.BuildPod (worker group %s)", wg.GroupName)
	pod := j.buildPod(what, func() corev1.Pod {
		tmpl := common.DefaultWorkerPodTemplate(j.ctx, *rc, wg, podName, fqdn, headPort, utils.GenerateRayWorkerReplicaGroupName(wg.GroupName), 0, 0)
		return common.BuildPod(j.ctx, tmpl, rayv1.WorkerNode, wg.RayStartParams, headPort, autoscaling, creator, fqdn, nil)
	})
	if pod == nil {
		return
	}
	j.pods = append(j.pods, builtPod{what, pod})
	j.pod(what, cluster.Spec.WorkerGroupSpecs[i].Template, pod)
	j.rayPod(what, pod, cluster.Name, rayv1.WorkerNode, wg.GroupName)
}

// rayPod checks what makes a built pod a Ray node of its cluster: the
// labels KubeRay selects it by and the `ray start` command it generated.
func (j *judge) rayPod(what string, pod *corev1.Pod, cluster string, node rayv1.RayNodeType, group string) {
	for k, want := range map[string]string{utils.RayClusterLabelKey: cluster, utils.RayNodeTypeLabelKey: string(node), utils.RayNodeGroupLabelKey: group} {
		if got := pod.Labels[k]; got != want {
			j.fail("%s: label %s is %q, want %q", what, k, got, want)
		}
	}
	ray := pod.Spec.Containers[utils.RayContainerIndex]
	cmd, ok := utils.EnvVarByName(utils.KUBERAY_GEN_RAY_START_CMD, ray.Env)
	prefix := "ray start "
	if node == rayv1.HeadNode {
		prefix = "ray start --head "
	}
	if !ok || !strings.HasPrefix(cmd.Value, prefix) {
		j.fail("%s: the Ray container's %s is %q, want a %q command", what, utils.KUBERAY_GEN_RAY_START_CMD, cmd.Value, prefix)
	}
}

// pod checks a pod KubeRay built from tmpl, the pod template the expansion
// wrote:
//   - every container of tmpl is in the pod, with every env var the
//     expansion wrote keeping its value (no entry KubeRay appends redefines
//     it: Kubernetes uses the last one) and every volume mount; every volume
//     of tmpl is in the pod;
//   - the pod is one the apiserver accepts as far as names go: containers
//     with unique names and an image, volumes with unique names, each mount
//     naming a volume of the pod, at a path no other mount of its container
//     uses;
//   - envOrder on all its containers.
func (j *judge) pod(what string, tmpl corev1.PodTemplateSpec, pod *corev1.Pod) {
	if len(pod.Spec.Containers) == 0 {
		j.fail("%s: the pod has no container", what)
		return
	}
	built := map[string]corev1.Container{}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if _, dup := built[c.Name]; dup {
			j.fail("%s: two containers are named %q", what, c.Name)
		}
		built[c.Name] = c
		if c.Image == "" {
			j.fail("%s: container %s has no image", what, c.Name)
		}
	}
	for _, c := range slices.Concat(tmpl.Spec.InitContainers, tmpl.Spec.Containers) {
		b, ok := built[c.Name]
		if !ok {
			j.fail("%s: container %s of the expansion is not in the pod", what, c.Name)
			continue
		}
		for _, name := range envNames(c.Env) {
			want, _ := lastEnv(c.Env, name)
			if got, _ := lastEnv(b.Env, name); !reflect.DeepEqual(got, want) {
				j.fail("%s: container %s: env %s is %s in the pod, the expansion wrote %s", what, c.Name, name, envString(got), envString(want))
			}
		}
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(b.VolumeMounts, func(x corev1.VolumeMount) bool { return reflect.DeepEqual(x, m) }) {
				j.fail("%s: container %s: the volume mount %s at %s the expansion wrote is not in the pod", what, c.Name, m.Name, m.MountPath)
			}
		}
	}
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if volumes[v.Name] {
			j.fail("%s: two volumes are named %q", what, v.Name)
		}
		volumes[v.Name] = true
	}
	for _, v := range tmpl.Spec.Volumes {
		if !slices.ContainsFunc(pod.Spec.Volumes, func(x corev1.Volume) bool { return reflect.DeepEqual(x, v) }) {
			j.fail("%s: the volume %s the expansion wrote is not in the pod", what, v.Name)
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		paths := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				j.fail("%s: container %s mounts volume %q, which the pod does not have", what, c.Name, m.Name)
			}
			if paths[m.MountPath] {
				j.fail("%s: container %s mounts two volumes at %s", what, c.Name, m.MountPath)
			}
			paths[m.MountPath] = true
		}
	}
	j.envOrder(what, pod.Spec.InitContainers, pod.Spec.Containers)
}

// envOrder checks that in every container, an env var whose value refers to
// $(NAME), NAME being defined in the same container's env, comes after
// NAME's definition: Kubernetes expands $(VAR) from the entries before it
// only, and leaves the text as it is otherwise.
func (j *judge) envOrder(what string, lists ...[]corev1.Container) {
	for _, c := range slices.Concat(lists...) {
		first := map[string]int{}
		for i, e := range c.Env {
			if _, ok := first[e.Name]; !ok {
				first[e.Name] = i
			}
		}
		for i, e := range c.Env {
			if e.ValueFrom != nil {
				continue
			}
			for _, ref := range references(e.Value) {
				if at, ok := first[ref]; ok && at >= i {
					j.fail("%s: container %s: env %s (entry %d) refers to $(%s), first defined at entry %d: Kubernetes leaves the reference unexpanded", what, c.Name, e.Name, i, ref, at)
				}
			}
		}
	}
}

// references returns the names value refers to as $(NAME), the way
// Kubernetes expands env values and commands: $$ stands for a literal $, a
// $( without a closing parenthesis is literal text.
func references(value string) []string {
	var out []string
	for i := 0; i+1 < len(value); i++ {
		if value[i] != '$' {
			continue
		}
		switch value[i+1] {
		case '$':
			i++
		case '(':
			end := strings.IndexByte(value[i+2:], ')')
			if end < 0 {
				return out
			}
			out = append(out, value[i+2:i+2+end])
			i += 2 + end
		}
	}
	return out
}

func envNames(env []corev1.EnvVar) []string {
	var names []string
	for _, e := range env {
		if !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	return names
}

// lastEnv is the entry of env named name that takes effect: the last one.
func lastEnv(env []corev1.EnvVar, name string) (corev1.EnvVar, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if env[i].Name == name {
			return env[i], true
		}
	}
	return corev1.EnvVar{}, false
}

func envString(e corev1.EnvVar) string {
	if e.Name == "" {
		return "missing"
	}
	if e.ValueFrom != nil {
		b, _ := json.Marshal(e.ValueFrom)
		return "valueFrom " + string(b)
	}
	return fmt.Sprintf("%q", e.Value)
}

// headService checks a head Service KubeRay built: no error, ports (the
// RayCluster controller fails with "ray head service does not have any
// ports set up" otherwise), and a selector that selects the head pod.
func (j *judge) headService(fn string, svc *corev1.Service, err error, head *corev1.Pod) {
	if err != nil {
		j.fail("%s: %v", fn, err)
		return
	}
	if svc == nil {
		j.fail("%s: no Service and no error", fn)
		return
	}
	if len(svc.Spec.Ports) == 0 {
		j.fail("%s: ray head service does not have any ports set up (KubeRay's reconcile fails with this)", fn)
	}
	j.servicePorts(fn, svc)
	if head != nil {
		for k, v := range svc.Spec.Selector {
			if head.Labels[k] != v {
				j.fail("%s: the selector %s=%s does not select the head pod (label %s=%q)", fn, k, v, k, head.Labels[k])
			}
		}
	}
}

// serveService checks a serve Service KubeRay built: no error, a port named
// serve with the head container's serve port, and a selector that selects
// the cluster's pods (ray.io/serve aside: the RayService controller sets
// that label on pods whose proxy is ready).
func (j *judge) serveService(fn string, svc *corev1.Service, err error, rc *rayv1.RayCluster, head *corev1.Pod) {
	if err != nil {
		j.fail("%s: %v", fn, err)
		return
	}
	if svc == nil {
		j.fail("%s: no Service and no error", fn)
		return
	}
	j.servicePorts(fn, svc)
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == utils.ServingPortName })
	if i < 0 {
		j.fail("%s: the serve Service has no port named %s", fn, utils.ServingPortName)
	} else if cs := rc.Spec.HeadGroupSpec.Template.Spec.Containers; len(cs) > 0 {
		ray := &cs[utils.RayContainerIndex]
		if want := utils.FindContainerPort(ray, utils.ServingPortName, -1); want != -1 && svc.Spec.Ports[i].Port != want {
			j.fail("%s: serve port %d, the head container's is %d", fn, svc.Spec.Ports[i].Port, want)
		}
	}
	if head != nil {
		for k, v := range svc.Spec.Selector {
			if k != utils.RayClusterServingServiceLabelKey && head.Labels[k] != v {
				j.fail("%s: the selector %s=%s does not select the cluster's pods (head label %s=%q)", fn, k, v, k, head.Labels[k])
			}
		}
	}
}

// servicePorts checks what the apiserver checks of a Service's ports that a
// builder decides: numbers in range, unique names.
func (j *judge) servicePorts(fn string, svc *corev1.Service) {
	names := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		if p.Port < 1 || p.Port > 65535 {
			j.fail("%s: port %s is %d", fn, p.Name, p.Port)
		}
		if names[p.Name] {
			j.fail("%s: two ports are named %q", fn, p.Name)
		}
		names[p.Name] = true
	}
}

// encodeWithoutNulls marshals v without its null fields, as a user or the
// engine writes objects: a typed object marshals nil maps as null, which
// the CRD refuses where it wants an object.
func encodeWithoutNulls(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return json.Marshal(dropNulls(m))
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(x)
			}
		}
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}
