package scaler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// Event reasons the scaler records on RayClusters.
const (
	// EventScaledUp: a worker group's replicas went up (Normal; the
	// decision's text says why).
	EventScaledUp = "ScaledUp"
	// EventScaledDown: a worker group's replicas went down (Normal).
	EventScaledDown = "ScaledDown"
	// EventDrainRejected: Ray refused to drain a node that is no longer
	// idle; its pod stays.
	EventDrainRejected = "DrainRejected"
	// EventDrainFailed: a drain call about one node failed; the node keeps
	// its pod and is tried again after a backoff.
	EventDrainFailed = "DrainFailed"
	// EventInfeasible: demand that no worker group can place within its
	// maxReplicas, said once per change.
	EventInfeasible = "Infeasible"
	// EventGCSUnreachable: the cluster's GCS cannot be reached or asked
	// (Warning, once per outage); scaling holds until it answers again.
	EventGCSUnreachable = "GCSUnreachable"
	// EventGCSReachable: the GCS answers again after an outage (Normal);
	// scaling resumes.
	EventGCSReachable = "GCSReachable"
	// EventUnsupportedRay: the cluster's Ray is one whose autoscaler API the
	// scaler does not speak (gcs.CheckRayVersion); it is left alone.
	EventUnsupportedRay = "UnsupportedRay"
	// EventRayVersionLimits: the cluster's Ray is supported with limits
	// (gcs.Compatibility.Limits), said once per change.
	EventRayVersionLimits = "RayVersionLimits"
	// EventInTreeAutoscalerRunning: KubeRay's in-tree autoscaler may still
	// write the cluster's replicas, so the scaler leaves it alone (intree.go).
	EventInTreeAutoscalerRunning = "InTreeAutoscalerRunning"
	// EventDemandTruncated: the demand was too large for one round, which
	// decided on a prefix of it (engine.Truncation).
	EventDemandTruncated = "DemandTruncated"
)

// Reconciler runs one scaling round per RayCluster per interval.
type Reconciler struct {
	Client   client.Client
	Events   events.EventRecorder
	Log      *zap.Logger
	Policy   func() *defaults.Policy
	Interval time.Duration
	// ActiveInterval, when shorter than Interval, is the time between two
	// rounds of a cluster that was busy recently (activity.go), within the
	// rounds per second fast allows.
	ActiveInterval time.Duration
	Now            func() time.Time
	// Leading reports whether this replica may act; nil: always. A replica
	// that does not lead keeps its caches warm and waits, holding nothing
	// of the clusters (no memory of their rounds, no GCS connection): when
	// it leads again it starts afresh, as a new leader does, and the time
	// it followed is not taken for loop lag.
	Leading func() bool
	// Owner reports whether this replica may act on a cluster (sharding:
	// the cluster is its own and no handover is pending) and, when it owns
	// the cluster but waits for a handover, how long; nil: every cluster. A
	// cluster it may not act on is forgotten, as when not Leading; it is
	// checked again before each of the round's drains and its patch.
	Owner func(types.NamespacedName) (act bool, wait time.Duration)
	// Write, when set, runs each of a round's writes (drain, patch) while
	// this replica may act on the cluster, and refuses it otherwise; a
	// replica that stops waits for the writes it let through.
	Write func(key types.NamespacedName, write func() error) error

	conns   *connections
	metrics *metricSet
	// fast caps the rounds run at ActiveInterval (nil: no cap).
	fast *fastBudget

	mu     sync.Mutex
	memory map[types.NamespacedName]*clusterMemory
	// active counts the remembered clusters whose last round found them
	// active.
	active int
}

// clusterMemory is what the scaler remembers between rounds of a cluster;
// nothing in it is needed for correctness after a restart.
type clusterMemory struct {
	lastRun time.Time
	// wait is the time to the round asked for at the end of the last one.
	wait           time.Duration
	activity       activity
	active         bool
	reportVersion  int64
	report         lastReport
	demandSince    time.Time
	failures       int
	lastInfeasible string
	truncated      bool
	lastWarnings   string
	gcsDown        bool
	// inTree is the cause the cluster was last refused for (intree.go).
	inTree string
	// unsupported is the Ray version the cluster was last refused for.
	unsupported string
	// rayLimits are the limits of the cluster's Ray last reported.
	rayLimits string
	// drains holds back the pods whose drain call failed recently.
	drains drainRetries
	// groups are the worker groups whose gauges are set (groupmetrics.go).
	groups map[string]bool
}

func (r *Reconciler) remember(key types.NamespacedName) *clusterMemory {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.memory[key]
	if m == nil {
		m = &clusterMemory{drains: drainRetries{}}
		r.memory[key] = m
		r.metrics.clusters.Set(float64(len(r.memory)))
	}
	return m
}

// forget drops all the scaler holds of a cluster: its memory, its GCS
// connection and its metric series.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	m, known := r.memory[key]
	if known && m.active {
		r.active--
		r.metrics.active.Set(float64(r.active))
	}
	delete(r.memory, key)
	r.metrics.clusters.Set(float64(len(r.memory)))
	r.mu.Unlock()
	r.conns.drop(key)
	if known {
		r.metrics.forgetCluster(key)
	}
}

// podClusterIndex indexes the cached Ray pods by their ray.io/cluster
// label. Every round lists one cluster's pods; matching the label over the
// whole namespace's Ray pods instead was the scaler's largest CPU cost with
// thousands of clusters (bench/scalercap).
const podClusterIndex = "raypilot.io/pod-cluster"

func podCluster(o client.Object) []string {
	if name := o.GetLabels()[LabelCluster]; name != "" {
		return []string{name}
	}
	return nil
}

// Managed reports whether the scaler owns rc's autoscaling.
func Managed(rc *rayv1.RayCluster) bool {
	return rc.Annotations[defaults.AnnotationAutoscaling] == defaults.AutoscalingCentral && rc.DeletionTimestamp == nil
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.Leading != nil && !r.Leading() {
		r.forget(req.NamespacedName)
		return ctrl.Result{RequeueAfter: r.Interval}, nil
	}
	if r.Owner != nil {
		if act, wait := r.Owner(req.NamespacedName); !act {
			// Another replica's: a change of members enqueues it again.
			r.forget(req.NamespacedName)
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	rc := &rayv1.RayCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, rc); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	// Lazy: most rounds log nothing, and zap's With clones its encoder.
	log := r.Log.WithLazy(zap.Stringer("raycluster", req.NamespacedName))
	if !Managed(rc) {
		r.forget(req.NamespacedName)
		_ = r.syncLabel(ctx, rc, false, log)
		return ctrl.Result{}, nil
	}
	rc = r.syncLabel(ctx, rc, true, log)
	now := r.Now()
	mem := r.remember(req.NamespacedName)
	mem.groups = r.metrics.observeGroups(rc, nil, mem.groups)
	if !mem.lastRun.IsZero() {
		if lag := now.Sub(mem.lastRun) - cmp.Or(mem.wait, r.Interval); lag > 0 {
			r.metrics.loopLag.Observe(lag.Seconds())
		}
	}
	mem.lastRun, mem.wait = now, r.Interval
	again := ctrl.Result{RequeueAfter: r.Interval}
	if rc.Spec.Suspend != nil && *rc.Spec.Suspend {
		return again, nil
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(rc.Namespace), client.MatchingFields{podClusterIndex: rc.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list pods of %s: %w", req, err)
	}
	if r.refuseInTree(rc, mem, pods.Items, log) {
		return again, nil // never two autoscalers on one cluster
	}
	head := RunningHead(pods.Items)
	if head == nil {
		return again, nil // scaling waits for the head, as Ray's does
	}

	conn, err := r.conns.get(ctx, rc, head)
	if err != nil {
		return r.gcsFailure(rc, mem, "Dial", err, log), nil
	}
	if ok, err := r.checkRayVersion(ctx, rc, mem, conn, now, log); err != nil {
		r.conns.drop(req.NamespacedName)
		return r.gcsFailure(rc, mem, "CheckAlive", err, log), nil
	} else if !ok {
		return again, nil
	}
	st, err := conn.GetClusterResourceState(ctx)
	if err != nil {
		r.conns.drop(req.NamespacedName)
		return r.gcsFailure(rc, mem, "GetClusterResourceState", err, log), nil
	}
	if mem.gcsDown {
		mem.gcsDown = false
		r.Events.Eventf(rc, nil, corev1.EventTypeNormal, EventGCSReachable, "Scale", "GCS at %s reachable again; scaling resumed", conn.addr)
	}
	mem.failures = 0

	decision, err := Decide(rc, r.Policy(), st, pods.Items, now)
	if err != nil {
		log.Info("cannot decide", zap.Error(err))
		return again, nil
	}
	plan := decision.Plan
	if decision.Demand() {
		if mem.demandSince.IsZero() {
			mem.demandSince = now
		}
	} else {
		mem.demandSince = time.Time{}
	}

	held := func(pod string) bool { return mem.drains.held(pod, now) }
	owns := func() bool { return r.owns(req.NamespacedName) }
	if !owns() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	guard := r.guard(req.NamespacedName)
	res, err := actuator.Apply(ctx, fencedPatcher{r.Client, guard}, fencedDrainer{conn, guard}, rc, pods.Items, plan, held)
	if !owns() {
		// Lost during the round: the writes after the loss were refused;
		// the new owner decides from what is there.
		log.Info("ownership lost during the round", zap.NamedError("apply", err))
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if res == nil {
		return ctrl.Result{}, err
	}
	// The drains came before the patch: what they did is recorded (and a
	// failed node backs off) whether or not the patch then went through.
	r.record(rc, mem, plan, res, now, log)
	unreachable := r.drainFailures(ctx, rc, mem, pods.Items, res, now, log)
	switch {
	case unreachable != nil:
		// The rest of the round was carried out; the report would fail too.
		r.conns.drop(req.NamespacedName)
		return r.gcsFailure(rc, mem, "DrainNode", unreachable, log), nil
	case errors.Is(err, actuator.ErrConflict):
		log.Debug("conflict; deciding again", zap.Error(err))
		return ctrl.Result{Requeue: true}, nil
	case errors.Is(err, actuator.ErrPatch):
		log.Warn("patch refused", zap.Error(err))
		return again, nil
	case err != nil:
		return ctrl.Result{}, err
	}

	r.report(ctx, conn, mem, st, plan, now, log)
	b := busy{demand: placeableDemand(decision), launching: launching(rc, pods.Items),
		drains: len(mem.drains) > 0 || len(res.Rejected) > 0, changed: res.Patched}
	return ctrl.Result{RequeueAfter: r.pace(mem, b, now)}, nil
}

// pace classifies the cluster after a round and returns the time to its
// next: the active interval for an active cluster while the budget allows,
// the interval otherwise.
func (r *Reconciler) pace(mem *clusterMemory, b busy, now time.Time) time.Duration {
	active := mem.activity.observe(b, now)
	if active != mem.active {
		mem.active = active
		r.mu.Lock()
		if active {
			r.active++
		} else {
			r.active--
		}
		r.metrics.active.Set(float64(r.active))
		r.mu.Unlock()
	}
	mem.wait = r.Interval
	if active && r.ActiveInterval > 0 && r.ActiveInterval < r.Interval && (r.fast == nil || r.fast.take(now)) {
		mem.wait = r.ActiveInterval
	}
	return mem.wait
}

// report sends the round's autoscaling state to the GCS when it may not
// hold it (lastReport.due).
func (r *Reconciler) report(ctx context.Context, conn *conn, mem *clusterMemory, st *rpcpb.ClusterResourceState, plan engine.Plan, now time.Time, log *zap.Logger) {
	next := autoscalingState(st, plan, 0)
	next.LastSeenClusterResourceStateVersion = 0
	if !mem.report.due(conn, st, next, now) {
		return
	}
	mem.reportVersion = max(mem.reportVersion+1, now.UnixMilli())
	next.LastSeenClusterResourceStateVersion, next.AutoscalerStateVersion = st.GetClusterResourceStateVersion(), mem.reportVersion
	err := conn.ReportAutoscalingState(ctx, next)
	// Sent (or not): what is kept to compare with has no versions.
	next.LastSeenClusterResourceStateVersion, next.AutoscalerStateVersion = 0, 0
	if err != nil {
		log.Info("cannot report autoscaling state", zap.Error(err))
		return
	}
	mem.report.sent(next, now)
}

// record turns what happened into Events and metrics.
func (r *Reconciler) record(rc *rayv1.RayCluster, mem *clusterMemory, plan engine.Plan, res *actuator.Result, now time.Time, log *zap.Logger) {
	if res.Patched {
		up := false
		for _, d := range plan.Decisions {
			if _, written := res.Replicas[d.Group]; !written && d.To == d.From {
				continue
			}
			switch {
			case d.To > d.From:
				up = true
				r.Events.Eventf(rc, nil, corev1.EventTypeNormal, EventScaledUp, "Scale", "%s", d.String())
				r.metrics.decisions.WithLabelValues("scale_up").Inc()
			case d.To < d.From:
				r.Events.Eventf(rc, nil, corev1.EventTypeNormal, EventScaledDown, "Scale", "%s", d.String())
				r.metrics.decisions.WithLabelValues("scale_down").Inc()
			}
			log.Info("scaled", zap.String("decision", d.String()))
		}
		if up && !mem.demandSince.IsZero() {
			r.metrics.reaction.Observe(now.Sub(mem.demandSince).Seconds())
			mem.demandSince = time.Time{}
		}
		r.metrics.scaled(rc, res, now)
		mem.groups = r.metrics.observeGroups(rc, res.Replicas, mem.groups)
	}
	for _, rej := range res.Rejected {
		r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventDrainRejected, "Drain", "Ray refused to drain %s (%s): %s", rej.Pod, rej.Cause, rej.Rejected)
		r.metrics.decisions.WithLabelValues("drain_rejected").Inc()
	}
	for _, s := range res.Skipped {
		log.Warn("termination of an unverified pod skipped", zap.String("pod", s.Pod), zap.String("group", s.Group))
	}
	if t := plan.Truncated; t != nil {
		if !mem.truncated {
			r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventDemandTruncated, "Scale", "%s", t.String())
			r.metrics.decisions.WithLabelValues("demand_truncated").Inc()
			log.Info("demand truncated", zap.String("truncation", t.String()))
		} else {
			log.Debug("demand truncated", zap.String("truncation", t.String()))
		}
	}
	mem.truncated = plan.Truncated != nil
	if key := strings.Join(plan.Warnings, "\n"); key != mem.lastWarnings {
		mem.lastWarnings = key
		for _, w := range plan.Warnings {
			log.Warn("left alone", zap.String("warning", w))
		}
	}
	if key := infeasibleText(plan.Infeasible); key != mem.lastInfeasible {
		mem.lastInfeasible = key
		if key != "" {
			r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventInfeasible, "Scale", "%s", key)
			r.metrics.decisions.WithLabelValues("infeasible").Inc()
		}
	}
}

// maxEventShapes bounds the request shapes one Infeasible Event names, so
// that it stays readable and within the API server's Event size.
const maxEventShapes = 5

func infeasibleText(inf engine.Infeasible) string {
	if inf.Empty() {
		return ""
	}
	var parts []string
	for i, r := range inf.Requests {
		if i == maxEventShapes {
			parts = append(parts, plural(len(inf.Requests)-i, "more shape"))
			break
		}
		parts = append(parts, fmt.Sprintf("%d × %s", r.Count, shape(r.Resources)))
	}
	if n := len(inf.Gangs); n > 0 {
		parts = append(parts, plural(n, "placement group"))
	}
	if n := len(inf.Constraints); n > 0 {
		parts = append(parts, plural(n, "request_resources constraint"))
	}
	return "cannot be placed within the worker groups' maxReplicas: " + strings.Join(parts, ", ")
}

func shape(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %g", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// gcsFailure holds the cluster (no decision on stale state), surfaces the
// failure once per outage, and backs off up to 30 s.
func (r *Reconciler) gcsFailure(rc *rayv1.RayCluster, mem *clusterMemory, call string, err error, log *zap.Logger) ctrl.Result {
	mem.failures++
	if !mem.gcsDown {
		mem.gcsDown = true
		reason := EventGCSUnreachable
		if errors.Is(err, gcs.ErrUnsupportedRay) {
			reason = EventUnsupportedRay
		}
		r.Events.Eventf(rc, nil, corev1.EventTypeWarning, reason, "Scale", "holding scaling: %v", err)
		log.Warn("GCS unreachable; holding", zap.String("call", call), zap.Error(err))
	}
	backoff := r.Interval << min(mem.failures, 5)
	return ctrl.Result{RequeueAfter: min(backoff, 30*time.Second)}
}
