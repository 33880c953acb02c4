package certrotate

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/certs"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testPolicy() Policy {
	return Policy{Hosts: []string{"svc", "svc.ns.svc", "127.0.0.1"}, LeafValidity: 30 * time.Minute, CAValidity: 3 * time.Hour, Settle: time.Minute}
}

func mustPlan(t *testing.T, p Policy, st State, now, since time.Time) Outcome {
	t.Helper()
	out, err := p.Plan(st, now, since)
	if err != nil {
		t.Fatal(err)
	}
	// Every planned state round-trips through the Secret's data.
	back, errs := ParseState(out.State.Data())
	if len(errs) > 0 {
		t.Fatalf("planned state does not parse back: %v", errs)
	}
	if !sameData(back.Data(), out.State.Data()) {
		t.Fatal("planned state changed through the Secret's data")
	}
	return out
}

func verify(leaf *x509.Certificate, bundle []*x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	for _, c := range bundle {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, DNSName: "svc.ns.svc"})
	return err
}

func TestPlanCreatesFromNothingThenHoldsStill(t *testing.T) {
	p := testPolicy()
	out := mustPlan(t, p, State{}, t0, time.Time{})
	if !out.Changed || out.State.CA == nil || out.State.Leaf == nil || out.State.Next != nil {
		t.Fatalf("from nothing: changed=%v CA=%v leaf=%v next=%v", out.Changed, out.State.CA != nil, out.State.Leaf != nil, out.State.Next != nil)
	}
	if len(out.State.Bundle) != 1 || !out.State.Bundle[0].Equal(out.State.CA.Cert) {
		t.Fatalf("bundle = %d certificates, want the CA alone", len(out.State.Bundle))
	}
	if err := verify(out.State.Leaf.Cert, out.State.Bundle, t0); err != nil {
		t.Fatalf("leaf does not verify against the bundle: %v", err)
	}
	if !certs.Covers(out.State.Leaf.Cert, p.Hosts) {
		t.Fatalf("leaf names %v %v, want %v", out.State.Leaf.Cert.DNSNames, out.State.Leaf.Cert.IPAddresses, p.Hosts)
	}
	if got := out.State.Leaf.Cert.NotAfter; !got.Equal(t0.Add(p.LeafValidity)) {
		t.Errorf("leaf NotAfter = %s, want %s", got, t0.Add(p.LeafValidity))
	}
	again := mustPlan(t, p, out.State, t0.Add(time.Minute), time.Time{})
	if again.Changed {
		t.Fatalf("second plan changed the state: %v", again.Reasons)
	}
	if want := t0.Add(p.LeafValidity - p.LeafValidity/3); !again.WakeAt.Equal(want) {
		t.Errorf("wake at %s, want the leaf's renewal time %s", again.WakeAt, want)
	}
}

func TestPlanRenewsLeafAtTwoThirds(t *testing.T) {
	p := testPolicy()
	st := mustPlan(t, p, State{}, t0, time.Time{}).State
	renewAt := t0.Add(p.LeafValidity - p.LeafValidity/3)
	if out := mustPlan(t, p, st, renewAt.Add(-time.Second), time.Time{}); out.Changed {
		t.Fatalf("renewed before two thirds: %v", out.Reasons)
	}
	out := mustPlan(t, p, st, renewAt.Add(time.Second), time.Time{})
	if !out.Changed || out.State.Leaf.Cert.Equal(st.Leaf.Cert) {
		t.Fatal("leaf not renewed after two thirds of its validity")
	}
	if !out.State.CA.Cert.Equal(st.CA.Cert) || len(out.State.Bundle) != 1 {
		t.Fatal("a leaf renewal changed the CA or the bundle")
	}
}

func TestPlanReissuesWhenHostsChange(t *testing.T) {
	p := testPolicy()
	st := mustPlan(t, p, State{}, t0, time.Time{}).State
	p.Hosts = append(p.Hosts, "extra.example")
	out := mustPlan(t, p, st, t0.Add(time.Minute), time.Time{})
	if !out.Changed || !certs.Covers(out.State.Leaf.Cert, p.Hosts) {
		t.Fatal("leaf not reissued for the new host list")
	}
	if !strings.Contains(strings.Join(out.Reasons, ";"), "host names changed") {
		t.Errorf("reasons = %v", out.Reasons)
	}
}

// The CA roll never serves a certificate that the bundle published before
// it was issued cannot verify: next CA first, promotion only once published.
func TestPlanRollsCAWithOverlap(t *testing.T) {
	p := testPolicy()
	st := mustPlan(t, p, State{}, t0, time.Time{}).State
	oldCA := st.CA.Cert
	rollAt := t0.Add(p.CAValidity - p.CAValidity/3)

	out := mustPlan(t, p, st, rollAt.Add(time.Second), time.Time{})
	if out.State.Next == nil {
		t.Fatal("no next CA with a third of the CA's life left")
	}
	if !out.State.CA.Cert.Equal(oldCA) || out.State.Leaf.Cert.CheckSignatureFrom(oldCA) != nil {
		t.Fatal("the next CA signs before it is published")
	}
	if len(out.State.Bundle) != 2 {
		t.Fatalf("bundle = %d certificates, want current and next", len(out.State.Bundle))
	}
	next := out.State.Next.Cert
	st = out.State

	// Not yet in the configurations: no promotion, whatever the time.
	if out := mustPlan(t, p, st, rollAt.Add(10*time.Minute), time.Time{}); out.State.Next == nil {
		t.Fatal("next CA promoted before it was published")
	}
	// Published, not yet settled.
	since := rollAt.Add(2 * time.Second)
	out = mustPlan(t, p, st, since.Add(p.Settle-time.Second), since)
	if out.State.Next == nil {
		t.Fatal("next CA promoted before the settle time")
	}
	if !out.WakeAt.Equal(since.Add(p.Settle)) {
		t.Errorf("wake at %s, want the end of the settle time %s", out.WakeAt, since.Add(p.Settle))
	}
	// Settled: promoted, new leaf from it, old CA still trusted.
	at := since.Add(p.Settle)
	out = mustPlan(t, p, st, at, since)
	if out.State.Next != nil || !out.State.CA.Cert.Equal(next) {
		t.Fatal("next CA not promoted once published and settled")
	}
	if out.State.Leaf.Cert.CheckSignatureFrom(next) != nil {
		t.Fatal("leaf not signed by the promoted CA")
	}
	if err := verify(out.State.Leaf.Cert, st.Bundle, at); err != nil {
		t.Fatalf("new leaf not verifiable by the bundle published before it: %v", err)
	}
	if !BundleContains(certs.EncodeCertificates(out.State.Bundle), oldCA) {
		t.Fatal("old CA dropped from the bundle before it expired")
	}
	// Old CA expired: pruned.
	st = out.State
	out = mustPlan(t, p, st, oldCA.NotAfter.Add(time.Second), time.Time{})
	if BundleContains(out.State.BundlePEM(), oldCA) {
		t.Fatal("expired CA still in the bundle")
	}
}

func TestPlanReplacesExpiredCA(t *testing.T) {
	p := testPolicy()
	st := mustPlan(t, p, State{}, t0, time.Time{}).State
	st.Next = nil
	late := st.CA.Cert.NotAfter.Add(time.Hour)
	out := mustPlan(t, p, st, late, time.Time{})
	if out.State.CA.Cert.Equal(st.CA.Cert) || !strings.Contains(strings.Join(out.Reasons, ";"), "expired") {
		t.Fatalf("expired CA not replaced loudly: %v", out.Reasons)
	}
	if err := verify(out.State.Leaf.Cert, out.State.Bundle, late); err != nil {
		t.Fatal(err)
	}
	if len(out.State.Bundle) != 1 {
		t.Fatalf("bundle keeps %d certificates, want the new CA only", len(out.State.Bundle))
	}
}

func TestParseStateReportsAndReplacesGarbage(t *testing.T) {
	p := testPolicy()
	good := mustPlan(t, p, State{}, t0, time.Time{}).State.Data()
	good[KeyTLSKey] = []byte("not a key")
	st, errs := ParseState(good)
	if len(errs) != 1 || st.Leaf != nil || st.CA == nil {
		t.Fatalf("errs=%v leaf=%v CA=%v; want one error, no leaf, the CA kept", errs, st.Leaf != nil, st.CA != nil)
	}
	if strings.Contains(errs[0].Error(), "BEGIN") {
		t.Fatal("parse error carries PEM material")
	}
	out := mustPlan(t, p, st, t0, time.Time{})
	if out.State.Leaf == nil || !out.State.CA.Cert.Equal(st.CA.Cert) {
		t.Fatal("unreadable leaf not replaced under the same CA")
	}
}

// A writer that plans, writes, then publishes the bundle, at every step over
// several CA lifetimes: each certificate served must be verifiable by the
// bundle already published when it was issued, and must be valid.
func TestPlanTimelineNeverServesUntrustedCertificate(t *testing.T) {
	p := testPolicy()
	var st State
	var published []*x509.Certificate // bundle in the configurations
	var nextSerial string
	var since time.Time
	step := p.LeafValidity / 7
	leaves, cas := map[string]bool{}, map[string]bool{}
	for now := t0; now.Before(t0.Add(4 * p.CAValidity)); now = now.Add(step) {
		// What the writer observes in the configurations.
		pub := time.Time{}
		if st.Next != nil && BundleContains(certs.EncodeCertificates(published), st.Next.Cert) {
			if nextSerial != st.Next.Cert.SerialNumber.String() {
				nextSerial, since = st.Next.Cert.SerialNumber.String(), now
			}
			pub = since
		}
		out := mustPlan(t, p, st, now, pub)
		if published != nil && !out.State.Leaf.Cert.Equal(st.Leaf.Cert) {
			if err := verify(out.State.Leaf.Cert, published, now); err != nil {
				t.Fatalf("%s: new leaf not trusted by the published bundle: %v (reasons %v)", now.Sub(t0), err, out.Reasons)
			}
		}
		if err := verify(out.State.Leaf.Cert, out.State.Bundle, now); err != nil {
			t.Fatalf("%s: leaf invalid: %v", now.Sub(t0), err)
		}
		if !out.WakeAt.After(now) {
			t.Fatalf("%s: wake time %s not in the future", now.Sub(t0), out.WakeAt)
		}
		st, published = out.State, out.State.Bundle
		leaves[st.Leaf.Cert.SerialNumber.String()] = true
		cas[st.CA.Cert.SerialNumber.String()] = true
	}
	// Four CA lifetimes: three or four CAs, and a leaf every 20 minutes.
	if len(cas) < 3 {
		t.Errorf("%d CAs over four CA lifetimes", len(cas))
	}
	if min := int(4 * p.CAValidity / p.LeafValidity); len(leaves) < min {
		t.Errorf("%d leaves, want at least %d", len(leaves), min)
	}
}

func TestPolicyValidate(t *testing.T) {
	for name, mut := range map[string]func(*Policy){
		"no hosts":          func(p *Policy) { p.Hosts = nil },
		"CA too short":      func(p *Policy) { p.CAValidity = 2 * p.LeafValidity },
		"negative validity": func(p *Policy) { p.LeafValidity = -time.Second },
		"settle too long":   func(p *Policy) { p.Settle = p.CAValidity },
	} {
		p := testPolicy()
		mut(&p)
		if p.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := testPolicy().Validate(); err != nil {
		t.Errorf("valid policy rejected: %v", err)
	}
}

func TestHosts(t *testing.T) {
	got := Hosts("raypilot-webhook", "raypilot", []string{" 127.0.0.1", ""})
	want := []string{"raypilot-webhook", "raypilot-webhook.raypilot", "raypilot-webhook.raypilot.svc", "raypilot-webhook.raypilot.svc.cluster.local", "127.0.0.1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Hosts = %v, want %v", got, want)
	}
}
