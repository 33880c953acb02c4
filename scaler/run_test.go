package scaler

import (
	"strings"
	"testing"
)

// The identity is in the user agent, so the API server's audit log tells
// the replicas apart; without a configured agent, client-go's default
// comes first.
func TestUserAgentCarriesIdentity(t *testing.T) {
	id := replicaIdentity()
	if got := userAgent("", id); !strings.HasSuffix(got, " scaler/"+id) || !strings.Contains(got, "/") || strings.HasPrefix(got, " ") {
		t.Errorf("userAgent(\"\", %q) = %q", id, got)
	}
	if got := userAgent("raypilot/1.0", id); got != "raypilot/1.0 scaler/"+id {
		t.Errorf("userAgent = %q", got)
	}
	if other := replicaIdentity(); other == id {
		t.Errorf("two replicas got the identity %q", id)
	}
}

// --sharding and --leader-elect exclude each other.
func TestShardingExcludesLeaderElection(t *testing.T) {
	o := Options{Sharding: true, LeaderElection: true}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--sharding and --leader-elect") {
		t.Errorf("Validate: %v", err)
	}
	for _, o := range []Options{{Sharding: true}, {LeaderElection: true}, {}} {
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", o, err)
		}
	}
}
