package gcs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckRayVersion(t *testing.T) {
	tests := []struct {
		version    string
		supported  bool
		deadline   bool
		labels     bool
		unverified bool
		// limits are substrings, one per expected limit, in order.
		limits []string
	}{
		// Refused: no version, garbage, and every release before 2.8.
		{version: ""},
		{version: "   "},
		{version: "garbage"},
		{version: "2"},
		{version: "2.x"},
		{version: "2.9rc1"},
		{version: "-2.9.0"},
		{version: "+2.9.0"},
		{version: "2.-9.0"},
		{version: "2.9.x"},
		{version: "2.9."},
		{version: "99999999999999999999.1.0"},
		{version: "1.13.1"},
		{version: "2.5.1"},
		{version: "2.6.3"},
		{version: "2.7.0"},
		{version: "2.7.2"},
		{version: "2.7.99"},
		{version: "2.7.0.dev0"},
		// The boundary: 2.8 and its candidates.
		{version: "2.8.0", supported: true, limits: []string{"no drain deadline", "no node labels"}},
		{version: "2.8.0rc0", supported: true, limits: []string{"no drain deadline", "no node labels"}},
		{version: "2.8", supported: true, limits: []string{"no drain deadline", "no node labels"}},
		{version: " 2.8.1\n", supported: true, limits: []string{"no drain deadline", "no node labels"}},
		{version: "2.9.3", supported: true, limits: []string{"no drain deadline", "no node labels"}},
		// Drain deadline and rejection message from 2.10.
		{version: "2.10.0", supported: true, deadline: true, limits: []string{"no node labels"}},
		{version: "2.48.0", supported: true, deadline: true, limits: []string{"no node labels"}},
		// Everything from 2.49 up to the newest verified line.
		{version: "2.49.0", supported: true, deadline: true, labels: true, limits: []string{"older internal numbering"}},
		{version: "2.52.0", supported: true, deadline: true, labels: true, limits: []string{"older internal numbering"}},
		{version: "2.52.7", supported: true, deadline: true, labels: true, limits: []string{"2.49 to 2.52"}},
		// Newer than verified.
		{version: "2.53.0", supported: true, deadline: true, labels: true, unverified: true,
			limits: []string{"newer than 2.52"}},
		{version: "3.0.0", supported: true, deadline: true, labels: true, unverified: true,
			limits: []string{"newer than 2.52"}},
		// Development builds.
		{version: "3.0.0.dev0", supported: true, deadline: true, labels: true, unverified: true,
			limits: []string{"development build"}},
		{version: "2.8.0.dev0", supported: true, unverified: true,
			limits: []string{"development build", "no drain deadline", "no node labels"}},
		// Patched builds are judged by the release they name.
		{version: "2.9.3+corp5", supported: true,
			limits: []string{"patched build", "no drain deadline", "no node labels"}},
		{version: "2.52.0+corp.abc", supported: true, deadline: true, labels: true,
			limits: []string{"patched build", "older internal numbering"}},
		{version: "2.6.3+corp1"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			c := CheckRayVersion(tt.version)
			if c.Version != tt.version {
				t.Errorf("Version = %q", c.Version)
			}
			if c.Supported != tt.supported {
				t.Fatalf("Supported = %v (reason %q), want %v", c.Supported, c.Reason, tt.supported)
			}
			if !c.Supported {
				// A refusal names both ways out and grants nothing.
				for _, want := range []string{"upgrade the cluster's Ray to 2.8.0", "raypilot.io/autoscaling: disabled", "spec.enableInTreeAutoscaling: true"} {
					if !strings.Contains(c.Reason, want) {
						t.Errorf("Reason %q lacks %q", c.Reason, want)
					}
				}
				if strings.Contains(c.Reason, "in-tree\"") || strings.Contains(c.Reason, "autoscaling: in-tree") {
					t.Errorf("Reason %q names an annotation value the webhook rejects", c.Reason)
				}
				if len(c.Limits) != 0 || c.DrainDeadline || c.Labels || c.Unverified {
					t.Errorf("refused version has grants %+v", c)
				}
				return
			}
			if c.Reason != "" {
				t.Errorf("Reason = %q for a supported version", c.Reason)
			}
			if c.DrainDeadline != tt.deadline || c.Labels != tt.labels || c.Unverified != tt.unverified {
				t.Errorf("DrainDeadline, Labels, Unverified = %v, %v, %v; want %v, %v, %v",
					c.DrainDeadline, c.Labels, c.Unverified, tt.deadline, tt.labels, tt.unverified)
			}
			if len(c.Limits) != len(tt.limits) {
				t.Fatalf("Limits = %q, want %d matching %q", c.Limits, len(tt.limits), tt.limits)
			}
			for i, want := range tt.limits {
				if !strings.Contains(c.Limits[i], want) {
					t.Errorf("Limits[%d] = %q, want it to contain %q", i, c.Limits[i], want)
				}
			}
			// Every release up to the newest verified line is warned about
			// the label operator numbering (no release is proven fixed).
			p, _ := parseRayVersion(tt.version)
			warned := strings.Contains(strings.Join(c.Limits, " "), "older internal numbering")
			if want := !newestVerified.less(rayVersion{p.major, p.minor, 0}) && !(p.dev && c.Labels); warned != want {
				t.Errorf("label operator limit present = %v, want %v: %q", warned, want, c.Limits)
			}
		})
	}
}

// TestRefusalReasons: each kind of refusal says why.
func TestRefusalReasons(t *testing.T) {
	for version, want := range map[string]string{
		"":        "did not report its Ray version",
		"2.7.2":   "older than 2.8.0",
		"2.6.3":   "earlier GCS builds read 1 as PREEMPTION",
		"garbage": "not MAJOR.MINOR",
		"2.x":     "minor",
	} {
		if got := CheckRayVersion(version).Reason; !strings.Contains(got, want) {
			t.Errorf("CheckRayVersion(%q).Reason = %q, want it to contain %q", version, got, want)
		}
	}
}

// TestVersionBoundariesOrdered: the boundaries the doc's table is built on
// stay in order.
func TestVersionBoundariesOrdered(t *testing.T) {
	order := []rayVersion{minSupported, drainDeadlineSince, labelsSince, newestVerified}
	for i := 1; i < len(order); i++ {
		if !order[i-1].less(order[i]) {
			t.Errorf("boundary %v is not before %v", order[i-1], order[i])
		}
	}
}

func TestParseRayVersion(t *testing.T) {
	tests := []struct {
		in    string
		want  rayVersion
		dev   bool
		local string
	}{
		{"2.52.0", rayVersion{2, 52, 0}, false, ""},
		{"2.10", rayVersion{2, 10, 0}, false, ""},
		{"2.9.3rc1", rayVersion{2, 9, 3}, false, ""},
		{"3.0.0.dev0", rayVersion{3, 0, 0}, true, ""},
		{"2.55.1+kuaishou.abcdef", rayVersion{2, 55, 1}, false, "kuaishou.abcdef"},
		{"2.8.0.DEV1", rayVersion{2, 8, 0}, true, ""},
	}
	for _, tt := range tests {
		p, err := parseRayVersion(tt.in)
		if err != nil {
			t.Errorf("parseRayVersion(%q): %v", tt.in, err)
			continue
		}
		if p.rayVersion != tt.want || p.dev != tt.dev || p.local != tt.local {
			t.Errorf("parseRayVersion(%q) = %+v, want %v dev=%v local=%q", tt.in, p, tt.want, tt.dev, tt.local)
		}
	}
}

// FuzzCheckRayVersion: any string gives a consistent answer without
// panicking, and a supported answer comes only from a version that parses
// to 2.8.0 or later.
func FuzzCheckRayVersion(f *testing.F) {
	for _, s := range []string{"", "2.8.0", "2.7.2", "3.0.0.dev0", "2.9.3rc1", "2.52.0+x", "2.", ".", "2..0", "9999999.1", "2.8.0\x00", "٢.٨.٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CheckRayVersion(s)
		if c.Version != s {
			t.Fatalf("Version %q != input %q", c.Version, s)
		}
		if c.Supported == (c.Reason != "") {
			t.Fatalf("Supported=%v with Reason %q", c.Supported, c.Reason)
		}
		p, err := parseRayVersion(s)
		if c.Supported {
			if err != nil || p.less(minSupported) {
				t.Fatalf("%q supported, but parses to %+v, %v", s, p, err)
			}
			if c.Labels && !c.DrainDeadline {
				t.Fatalf("%q: labels without drain deadline", s)
			}
		} else if len(c.Limits) != 0 {
			t.Fatalf("%q refused with limits %q", s, c.Limits)
		}
		if err == nil {
			if p.major < 0 || p.minor < 0 || p.patch < 0 || p.major > maxComponent || p.minor > maxComponent || p.patch > maxComponent {
				t.Fatalf("%q parsed to %+v", s, p)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(c.Reason) {
			t.Fatalf("Reason for %q is not UTF-8", s)
		}
	})
}
