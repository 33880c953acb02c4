package shard

import (
	"slices"
	"time"
)

// Fence decides from the views one replica took which keys it may act on,
// so that it stops acting on a key before another replica starts:
//
//   - while its own renewal or its view refresh has not succeeded for
//     Deadline (the RenewDeadline, below the LeaseDuration), it acts on
//     nothing: it has stopped before the others see its Lease expire;
//   - it acts on a key it owns in its current view only if, in every view
//     it took within the last Handover, the key's owner was this replica or
//     a member now gone (its Lease expired or was deleted: it stopped
//     already). The views before a term's first one (at startup, or after a
//     lapse of Deadline) are taken as "the current members without me".
//
// With rendezvous hashing and this replica in every view it takes, the
// second rule reduces to the term's start: if a view within Handover gave
// a key to a member o that is still live, o outscores this replica on it,
// and so it still owns it in the current view. Only the views before the
// term can give a key this replica owns now to a live member. So for
// Handover after a term starts, a replica with live peers acts on nothing
// (they may hold its keys until their next view, at most Deadline stale,
// and finish a round's writes); a lone replica acts at once; keys gained
// from a member that is gone are acted on at once. Fence is not safe for
// concurrent use.
type Fence struct {
	// Self is this replica's identity.
	Self string
	// Handover is how long a term's start holds keys back.
	Handover time.Duration
	// Deadline is how long renewal or refresh may fail before this replica
	// acts on nothing.
	Deadline time.Duration

	since     time.Time // start of the current term
	before    []string  // the term's first view without Self
	lapsed    bool      // a renewal gap of Deadline since the last refresh
	members   []string  // current view, sorted, with Self
	renewed   time.Time
	refreshed time.Time
}

// Renewed records a successful renewal of this replica's Lease at at.
func (f *Fence) Renewed(at time.Time) {
	if f.renewed.IsZero() || at.Sub(f.renewed) >= f.Deadline {
		f.lapsed = true
	}
	f.renewed = at
}

// Refreshed records a view of the live members taken at at (this replica
// is added to it) and reports whether the members changed. A refresh after
// a lapse of Deadline (of renewals or refreshes) starts a new term: the
// others may have taken this replica's keys meanwhile.
func (f *Fence) Refreshed(at time.Time, members []string) bool {
	members = append([]string{f.Self}, members...)
	slices.Sort(members)
	members = slices.Compact(members)
	if f.lapsed || f.refreshed.IsZero() || at.Sub(f.refreshed) >= f.Deadline {
		f.since = at
		f.before = slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == f.Self })
	}
	f.refreshed, f.lapsed = at, false
	changed := !slices.Equal(f.members, members)
	f.members = members
	return changed
}

// Lost records that this replica stops acting (its context ended): it acts
// on nothing until a new term.
func (f *Fence) Lost() {
	f.renewed, f.refreshed, f.lapsed, f.members = time.Time{}, time.Time{}, true, nil
}

// healthy: both the renewal and the refresh succeeded within Deadline.
func (f *Fence) healthy(now time.Time) bool {
	return !f.renewed.IsZero() && !f.refreshed.IsZero() &&
		now.Sub(f.renewed) < f.Deadline && now.Sub(f.refreshed) < f.Deadline
}

// Members are the live members in the current view (none while this
// replica acts on nothing).
func (f *Fence) Members(now time.Time) []string {
	if !f.healthy(now) {
		return nil
	}
	return f.members
}

// Decide reports whether this replica may act on key at now and, when it
// owns key but waits for the handover, how long.
func (f *Fence) Decide(key string, now time.Time) (act bool, wait time.Duration) {
	if !f.healthy(now) || Owner(key, f.members) != f.Self {
		return false, 0
	}
	if wait = f.since.Add(f.Handover).Sub(now); wait > 0 {
		if o := Owner(key, f.before); o != "" && slices.Contains(f.members, o) {
			return false, wait
		}
	}
	return true, 0
}
