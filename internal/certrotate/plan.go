package certrotate

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/raypilot/raypilot/internal/certs"
)

// Keys of the Secret's data. tls.crt and tls.key follow the kubernetes.io/tls
// convention, so the Secret can also be mounted as files.
const (
	KeyTLSCert    = "tls.crt"       // serving certificate
	KeyTLSKey     = "tls.key"       // its key
	KeyCACert     = "ca.crt"        // the CA that signs serving certificates
	KeyCAKey      = "ca.key"        // its key
	KeyNextCACert = "ca-next.crt"   // during a CA roll: the CA that will sign next
	KeyNextCAKey  = "ca-next.key"   // its key
	KeyBundle     = "ca-bundle.crt" // what clients must trust: current, next and older unexpired CAs
)

// State is the parsed content of the Secret. A part that is missing or
// unreadable is nil, and Plan replaces it.
type State struct {
	CA, Next, Leaf *certs.KeyPair
	Bundle         []*x509.Certificate
}

// ParseState reads the Secret's data; it never fails, it reports what it
// could not read so the writer can log it (without key material).
func ParseState(data map[string][]byte) (State, []error) {
	var st State
	var errs []error
	pair := func(certKey, keyKey string) *certs.KeyPair {
		if len(data[certKey]) == 0 && len(data[keyKey]) == 0 {
			return nil
		}
		kp, err := certs.ParseKeyPair(data[certKey], data[keyKey])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", certKey, keyKey, err))
			return nil
		}
		return kp
	}
	st.CA = pair(KeyCACert, KeyCAKey)
	st.Next = pair(KeyNextCACert, KeyNextCAKey)
	st.Leaf = pair(KeyTLSCert, KeyTLSKey)
	b, err := certs.ParseCertificates(data[KeyBundle])
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", KeyBundle, err))
	}
	st.Bundle = b
	return st, errs
}

// Data renders the state as Secret data.
func (s State) Data() map[string][]byte {
	d := map[string][]byte{KeyBundle: certs.EncodeCertificates(s.Bundle)}
	put := func(kp *certs.KeyPair, certKey, keyKey string) {
		if kp != nil {
			d[certKey], d[keyKey] = kp.CertPEM, kp.KeyPEM
		}
	}
	put(s.CA, KeyCACert, KeyCAKey)
	put(s.Next, KeyNextCACert, KeyNextCAKey)
	put(s.Leaf, KeyTLSCert, KeyTLSKey)
	return d
}

// BundlePEM is the CA bundle to publish in the webhook configurations.
func (s State) BundlePEM() []byte { return certs.EncodeCertificates(s.Bundle) }

// Policy decides when certificates are created and renewed.
type Policy struct {
	// Hosts are the serving certificate's DNS names and IP addresses.
	Hosts []string
	// LeafValidity and CAValidity are the lifetimes of new certificates.
	// Each is renewed when a third of it is left.
	LeafValidity, CAValidity time.Duration
	// Settle is how long a next CA must have been in every managed
	// configuration's caBundle before it signs serving certificates, so
	// every API server has seen it.
	Settle time.Duration
}

// Validate rejects lifetimes that cannot roll without an outage.
func (p Policy) Validate() error {
	switch {
	case len(p.Hosts) == 0:
		return errors.New("no host names for the serving certificate (a Service name or extra SANs)")
	case p.LeafValidity <= 0 || p.CAValidity <= 0:
		return errors.New("validities must be positive")
	case p.CAValidity < 3*p.LeafValidity:
		// The CA roll starts with a third of the CA's life left; a full
		// serving certificate must fit in it.
		return fmt.Errorf("CA validity %s must be at least 3 times the serving certificate validity %s", p.CAValidity, p.LeafValidity)
	case p.Settle < 0 || p.Settle >= p.CAValidity/3:
		return fmt.Errorf("settle time %s must be between 0 and a third of the CA validity", p.Settle)
	}
	return nil
}

// Outcome is what Plan decided.
type Outcome struct {
	State State
	// Changed is true when State differs from the input and must be written.
	Changed bool
	// Reasons say why, one line per change (no key material).
	Reasons []string
	// WakeAt is when Plan must run again at the latest.
	WakeAt time.Time
}

// Plan decides the next state of the certificates at now. nextPublishedSince
// is when the writer first saw cur.Next in every managed configuration's
// caBundle (zero: not yet everywhere).
//
// The CA roll has two steps so no client ever meets a certificate it cannot
// verify: with a third of the CA's life left, a next CA is created and added
// to the bundle (serving certificates are still signed by the current CA);
// once the bundle with the next CA has been in every configuration for
// Settle, the next CA becomes current and signs a new serving certificate.
// The old CA stays in the bundle until it expires, for replicas still
// serving its last certificate. Only an unusable CA (expired, missing,
// unreadable) is replaced at once; then an outage is unavoidable and the
// reason says so.
func (p Policy) Plan(cur State, now time.Time, nextPublishedSince time.Time) (Outcome, error) {
	st := cur
	var reasons []string
	usable := func(kp *certs.KeyPair) bool {
		return kp != nil && kp.Cert.IsCA && now.Before(kp.Cert.NotAfter)
	}
	newCA := func() (*certs.KeyPair, error) {
		return certs.NewCA(fmt.Sprintf("raypilot-webhook-ca@%d", now.Unix()), p.CAValidity, now)
	}
	if st.Next != nil && !usable(st.Next) {
		reasons = append(reasons, "dropped an unusable next CA")
		st.Next = nil
	}
	if !usable(st.CA) {
		switch {
		case st.Next != nil:
			reasons = append(reasons, fmt.Sprintf("CA unusable; next CA %s promoted before it was published everywhere", describe(st.Next.Cert)))
			st.CA, st.Next = st.Next, nil
		default:
			ca, err := newCA()
			if err != nil {
				return Outcome{}, err
			}
			if cur.CA != nil {
				reasons = append(reasons, fmt.Sprintf("CA %s expired; created CA %s (clients see errors until the bundle is injected)", describe(cur.CA.Cert), describe(ca.Cert)))
			} else {
				reasons = append(reasons, fmt.Sprintf("created CA %s", describe(ca.Cert)))
			}
			st.CA = ca
		}
		st.Leaf = nil
	}
	if st.Next == nil && st.CA.Cert.NotAfter.Sub(now) < p.CAValidity/3 {
		next, err := newCA()
		if err != nil {
			return Outcome{}, err
		}
		reasons = append(reasons, fmt.Sprintf("CA %s renews: next CA %s added to the bundle", describe(st.CA.Cert), describe(next.Cert)))
		st.Next = next
	} else if st.Next != nil && !nextPublishedSince.IsZero() && now.Sub(nextPublishedSince) >= p.Settle {
		reasons = append(reasons, fmt.Sprintf("next CA %s is in every caBundle: it now signs serving certificates", describe(st.Next.Cert)))
		st.CA, st.Next = st.Next, nil
		st.Leaf = nil
	}
	if why := p.leafProblem(st.Leaf, st.CA, now); why != "" {
		leaf, err := st.CA.Issue(p.Hosts, p.LeafValidity, now)
		if err != nil {
			return Outcome{}, err
		}
		reasons = append(reasons, fmt.Sprintf("serving certificate %s (%s)", describe(leaf.Cert), why))
		st.Leaf = leaf
	}
	st.Bundle = bundle(st, cur.Bundle, now)
	out := Outcome{State: st, Reasons: reasons, WakeAt: p.wake(st, now, nextPublishedSince)}
	out.Changed = !sameData(cur.Data(), st.Data())
	return out, nil
}

// leafProblem says why the serving certificate must be reissued, or "".
func (p Policy) leafProblem(leaf, ca *certs.KeyPair, now time.Time) string {
	switch {
	case leaf == nil:
		return "issued"
	case leaf.Cert.CheckSignatureFrom(ca.Cert) != nil:
		return "reissued: not signed by the current CA"
	case !certs.Covers(leaf.Cert, p.Hosts):
		return "reissued: host names changed"
	case leaf.Cert.NotAfter.Sub(now) > p.LeafValidity:
		return "reissued: validity shortened"
	case leaf.Cert.NotAfter.Sub(now) < p.LeafValidity/3 && ca.Cert.NotAfter.After(leaf.Cert.NotAfter):
		// Only when a new one would live longer: a certificate cut short
		// by its CA's expiry is replaced by the CA roll, not in a loop.
		return "renewed: a third of its validity left"
	}
	return ""
}

// bundle is the current CA, the next one, and every older CA of the
// previous bundle that has not expired, without duplicates.
func bundle(st State, prev []*x509.Certificate, now time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	add := func(c *x509.Certificate) {
		for _, o := range out {
			if o.Equal(c) {
				return
			}
		}
		out = append(out, c)
	}
	add(st.CA.Cert)
	if st.Next != nil {
		add(st.Next.Cert)
	}
	for _, c := range prev {
		if c.IsCA && now.Before(c.NotAfter) {
			add(c)
		}
	}
	return out
}

// wake is the earliest time something in st needs attention.
func (p Policy) wake(st State, now, nextPublishedSince time.Time) time.Time {
	at := st.CA.Cert.NotAfter
	earlier := func(t time.Time) {
		if t.Before(at) {
			at = t
		}
	}
	if st.Leaf.Cert.NotAfter.Before(st.CA.Cert.NotAfter) {
		earlier(st.Leaf.Cert.NotAfter.Add(-p.LeafValidity / 3))
	}
	if st.Next == nil {
		earlier(st.CA.Cert.NotAfter.Add(-p.CAValidity / 3))
	} else if !nextPublishedSince.IsZero() {
		earlier(nextPublishedSince.Add(p.Settle))
	}
	for _, c := range st.Bundle {
		earlier(c.NotAfter)
	}
	if min := now.Add(time.Second); at.Before(min) {
		at = min
	}
	return at
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// describe names a certificate for logs: subject, serial and expiry.
func describe(c *x509.Certificate) string {
	return fmt.Sprintf("%q serial %x expiring %s", c.Subject.CommonName, c.SerialNumber, c.NotAfter.UTC().Format(time.RFC3339))
}

// BundleContains reports whether a PEM bundle holds c.
func BundleContains(bundle []byte, c *x509.Certificate) bool {
	cs, err := certs.ParseCertificates(bundle)
	if err != nil {
		return false
	}
	for _, o := range cs {
		if o.Equal(c) {
			return true
		}
	}
	return false
}
