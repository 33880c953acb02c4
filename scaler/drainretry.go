package scaler

import "time"

// maxDrainBackoff caps how long a node whose drain call failed waits before
// the scaler tries it again.
const maxDrainBackoff = 5 * time.Minute

// drainRetry is one pod's drain-failure streak.
type drainRetry struct {
	failures int
	next     time.Time
}

// drainRetries remembers, per pod, the drain calls that failed, so that the
// pod is held back (not drained, not listed, keeping its replica) until its
// backoff ends: the interval doubled per consecutive failure, at most
// maxDrainBackoff. Ray's v2 autoscaler likewise returns a node whose stop
// failed to RAY_RUNNING and decides on it again in a later round
// (RayStopper and the reconciler's handling of RayStopError in
// python/ray/autoscaler/v2/instance_manager/).
type drainRetries map[string]*drainRetry

// failed records a failure of pod's drain at now and returns the wait
// before the next attempt.
func (d drainRetries) failed(pod string, now time.Time, interval time.Duration) time.Duration {
	r := d[pod]
	if r == nil {
		r = &drainRetry{}
		d[pod] = r
	}
	r.failures++
	wait := maxDrainBackoff
	if shift := r.failures - 1; shift < 16 {
		wait = min(max(interval, time.Second)<<shift, maxDrainBackoff)
	}
	r.next = now.Add(wait)
	return wait
}

// held reports whether pod waits out a backoff at now.
func (d drainRetries) held(pod string, now time.Time) bool {
	r := d[pod]
	return r != nil && now.Before(r.next)
}

// forget ends the streaks of the pods that are gone, or whose drain went
// through.
func (d drainRetries) forget(keep func(pod string) bool) {
	for pod := range d {
		if !keep(pod) {
			delete(d, pod)
		}
	}
}
