package scaler

import (
	"sync"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
)

// activityHold is how long a cluster stays active after the last round
// that found it busy: a job that scaled up tends to scale again (its next
// stage, its actors' placement groups), and a scale-down is followed by
// the pods going away.
const activityHold = 30 * time.Second

// busy is what a round saw that makes its cluster worth polling at the
// active interval: something may change within seconds.
type busy struct {
	// demand: Ray has work waiting that the worker groups can place.
	demand bool
	// launching: workers were asked for and are not running yet.
	launching bool
	// drains: a drain failed or was refused and will be tried again.
	drains bool
	// changed: the round patched the cluster.
	changed bool
}

func (b busy) any() bool { return b.demand || b.launching || b.drains || b.changed }

// activity remembers when a cluster was last busy.
type activity struct{ until time.Time }

// observe records the round's b at now and reports whether the cluster is
// active: busy now or in the last activityHold.
func (a *activity) observe(b busy, now time.Time) bool {
	if b.any() {
		a.until = now.Add(activityHold)
	}
	return now.Before(a.until)
}

// placeableDemand reports whether pending demand is more than what the
// round found infeasible: polling faster does not place what cannot be
// placed.
func placeableDemand(d Decision) bool {
	pending, infeasible := 0, 0
	for _, p := range d.State.Pending {
		pending += p.Count
	}
	for _, r := range d.Plan.Infeasible.Requests {
		infeasible += r.Count
	}
	return pending > infeasible || len(d.State.Gangs) > len(d.Plan.Infeasible.Gangs)
}

// launching reports whether a worker group of rc has fewer running pods
// than its replicas ask for (replicas × numOfHosts, the pods its
// scaleStrategy.workersToDelete lists not counted).
func launching(rc *rayv1.RayCluster, pods []corev1.Pod) bool {
	listed := listedForDeletion(rc)
	running := map[string]int{}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && !listed[p.Name] {
			running[p.Labels[LabelGroup]]++
		}
	}
	for i := range rc.Spec.WorkerGroupSpecs {
		g := &rc.Spec.WorkerGroupSpecs[i]
		if g.Replicas != nil && running[g.GroupName] < int(*g.Replicas)*max(int(g.NumOfHosts), 1) {
			return true
		}
	}
	return false
}

// fastBudget caps the rounds run at the active interval per second, so
// that many busy clusters at once cost a bounded amount of CPU: past the
// cap, active clusters are polled at the interval, as idle ones. A token
// bucket holding one second of rounds.
type fastBudget struct {
	perSecond float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newFastBudget(perSecond int) *fastBudget {
	return &fastBudget{perSecond: float64(perSecond), tokens: float64(perSecond)}
}

// take reports whether one more round may run at the active interval at
// now, and counts it.
func (b *fastBudget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.perSecond, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
