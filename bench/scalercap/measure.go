package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// sample is one reaction: demand posted at posted, first returned by the
// fake GCS at seen, the replicas patch seen by the benchmark's watch at
// patched.
type sample struct {
	posted, seen, patched time.Time
}

// reactions posts pending demand to random idle clusters at random times
// and times the scale-up patch through a watch on RayClusters.
type reactions struct {
	cl       client.WithWatch
	clusters map[types.NamespacedName]*benchCluster

	mu        sync.Mutex
	armed     map[types.NamespacedName]time.Time
	replicas  map[types.NamespacedName]int32
	samples   []sample
	unasked   int // scale-ups on clusters with no demand posted
	selfReset int // clusters the scaler brought back to 0 itself
	resets    sync.WaitGroup
}

func newReactions(cl client.WithWatch, clusters []*benchCluster) *reactions {
	r := &reactions{cl: cl, clusters: map[types.NamespacedName]*benchCluster{},
		armed: map[types.NamespacedName]time.Time{}, replicas: map[types.NamespacedName]int32{}}
	for _, c := range clusters {
		r.clusters[types.NamespacedName{Namespace: c.namespace, Name: c.name}] = c
	}
	return r
}

// watch follows every RayCluster from now on until ctx ends.
func (r *reactions) watch(ctx context.Context) error {
	var list rayv1.RayClusterList
	if err := r.cl.List(ctx, &list, client.Limit(1)); err != nil {
		return fmt.Errorf("list RayClusters: %w", err)
	}
	w, err := r.cl.Watch(ctx, &rayv1.RayClusterList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return fmt.Errorf("watch RayClusters: %w", err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified {
				continue
			}
			if rc, ok := ev.Object.(*rayv1.RayCluster); ok {
				r.observe(ctx, rc, time.Now())
			}
		}
	}()
	return nil
}

func (r *reactions) observe(ctx context.Context, rc *rayv1.RayCluster, at time.Time) {
	if len(rc.Spec.WorkerGroupSpecs) == 0 || rc.Spec.WorkerGroupSpecs[0].Replicas == nil {
		return
	}
	key := types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name}
	n := *rc.Spec.WorkerGroupSpecs[0].Replicas
	r.mu.Lock()
	defer r.mu.Unlock()
	before := r.replicas[key]
	r.replicas[key] = n
	if n <= before {
		return
	}
	posted, ok := r.armed[key]
	if !ok {
		r.unasked++
		return
	}
	delete(r.armed, key)
	bc := r.clusters[key]
	r.samples = append(r.samples, sample{posted: posted, seen: bc.gcs.seen(), patched: at})
	bc.gcs.post(false)
	r.resets.Add(1)
	go r.reset(ctx, bc, key)
}

// reset puts the cluster back to 0 replicas (unless the scaler did, now
// that the demand is gone) and frees it for another sample.
func (r *reactions) reset(ctx context.Context, bc *benchCluster, key types.NamespacedName) {
	defer r.resets.Done()
	sleep(ctx, 2*time.Second)
	r.mu.Lock()
	n := r.replicas[key]
	if n == 0 {
		r.selfReset++
	}
	r.mu.Unlock()
	if n != 0 {
		rc := &rayv1.RayCluster{}
		rc.Namespace, rc.Name = key.Namespace, key.Name
		patch := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":0}]`))
		if err := r.cl.Patch(ctx, rc, patch); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "scalercap: reset %s: %v\n", key, err)
		}
		r.mu.Lock()
		r.replicas[key] = 0
		r.mu.Unlock()
		sleep(ctx, 2*time.Second)
	}
	bc.busy.Store(false)
}

// drive posts demand at random times (Poisson, rate per second) to random
// clusters that are not busy, until the window ends.
func (r *reactions) drive(ctx context.Context, clusters []*benchCluster, rate float64, until time.Time, rng *rand.Rand) {
	for {
		d := time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		if time.Now().Add(d).After(until) || !sleep(ctx, d) {
			return
		}
		for range 50 {
			bc := clusters[rng.IntN(len(clusters))]
			if !bc.busy.CompareAndSwap(false, true) {
				continue
			}
			key := types.NamespacedName{Namespace: bc.namespace, Name: bc.name}
			r.mu.Lock()
			r.armed[key] = bc.gcs.post(true)
			r.mu.Unlock()
			break
		}
	}
}

// finish waits up to timeout for armed samples to complete; it returns how
// many never did.
func (r *reactions) finish(ctx context.Context, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		left := len(r.armed)
		r.mu.Unlock()
		if left == 0 {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	r.mu.Lock()
	lost := len(r.armed)
	for key := range r.armed {
		r.clusters[key].gcs.post(false)
	}
	r.mu.Unlock()
	r.resets.Wait()
	return lost
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// splits returns each sample's reaction (posted → patch seen) and, for the
// samples whose cluster was read after the post, its two parts: the wait
// for that read and read → patch seen. r.mu must be held.
func (r *reactions) splits() (react, wait, round []time.Duration) {
	for _, s := range r.samples {
		react = append(react, s.patched.Sub(s.posted))
		if !s.seen.IsZero() {
			wait = append(wait, s.seen.Sub(s.posted))
			round = append(round, s.patched.Sub(s.seen))
		}
	}
	return react, wait, round
}
