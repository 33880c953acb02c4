package engine

import "math"

// launchBudget is Ray v2's per-type launch limit (Reconciler.
// _compute_to_launch): at most max(1, ceil(speed × max(running, 1))) new
// workers of a type per round, and never more than maxConcurrent requested but
// not yet created across the cluster. requested counts those already
// requested, queued what the scheduler wants for this type.
func launchBudget(speed float64, running, requested, maxConcurrent, queued int) int {
	want := math.Ceil(speed * float64(max(running, 1)))
	if math.IsNaN(want) {
		want = 0
	}
	desired := queued
	if want < float64(queued) {
		desired = max(1, int(want))
	}
	return min(max(min(addSat(maxConcurrent, -requested), desired), 0), queued)
}

// rateLimit drops the launches the upscaling rate does not allow this round;
// the demand behind them is still pending next round and asks again. It
// returns how many of each group's launches were wanted.
func (d *decider) rateLimit() (wanted []int) {
	wanted = make([]int, len(d.c.Groups))
	requested := 0
	for g := range d.extra {
		requested = addSat(requested, d.extra[g])
	}
	for _, n := range d.nodes {
		switch {
		case n.status == toLaunch:
			wanted[n.group]++
		case n.kind == kindPhantom && n.status != toTerminate:
			// A replica without a pod is Ray's REQUESTED instance.
			requested++
		}
	}
	allowed := make([]int, len(d.c.Groups))
	for g := range d.c.Groups {
		allowed[g] = launchBudget(d.c.UpscalingSpeed, d.running[g], requested, d.c.maxConcurrentLaunches(), wanted[g])
		requested = addSat(requested, allowed[g])
	}
	for _, n := range d.nodes {
		if n.status != toLaunch {
			continue
		}
		if allowed[n.group] == 0 {
			n.status = toTerminate // never launched: just forgotten
			continue
		}
		allowed[n.group]--
	}
	return wanted
}
