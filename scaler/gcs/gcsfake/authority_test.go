package gcsfake

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestAuthorityNamesItsCluster(t *testing.T) {
	for _, a := range []string{Authority("team", "demo"), "demo-head-svc.team.svc.cluster.local:8265", "demo-head-svc.team"} {
		ns, name, err := ParseAuthority(a)
		if err != nil || ns != "team" || name != "demo" {
			t.Errorf("ParseAuthority(%q) = %q, %q, %v; want team, demo", a, ns, name, err)
		}
	}
	for _, a := range []string{"10.0.0.1:6379", "demo.team.svc:6379", "demo-head-svc:6379", ""} {
		if ns, name, err := ParseAuthority(a); err == nil {
			t.Errorf("ParseAuthority(%q) = %q, %q: an address that names no cluster was accepted", a, ns, name)
		}
	}
}

func TestCallCluster(t *testing.T) {
	call := func(md metadata.MD) context.Context { return metadata.NewIncomingContext(context.Background(), md) }
	if ns, name, err := CallCluster(call(metadata.Pairs(":authority", Authority("team", "demo")))); err != nil || ns != "team" || name != "demo" {
		t.Errorf("CallCluster = %q, %q, %v; want team, demo", ns, name, err)
	}
	for _, tc := range []struct {
		md   metadata.MD
		code codes.Code
	}{
		{metadata.MD{}, codes.InvalidArgument},
		{metadata.Pairs(":authority", "10.0.0.1:6379"), codes.NotFound},
	} {
		if _, _, err := CallCluster(call(tc.md)); status.Code(err) != tc.code {
			t.Errorf("CallCluster(%v): %v, want code %s", tc.md, err, tc.code)
		}
	}
}
