package gcs

import (
	"fmt"
	"strconv"
	"strings"
)

// Compatibility is what the scaler may do with the GCS of one Ray version.
// docs/ray-versions.md gives the evidence for every boundary below.
type Compatibility struct {
	// Version is the Ray version as the GCS reported it.
	Version string
	// Supported reports whether the scaler may scale and drain the cluster.
	// When false, the scaler leaves the cluster alone: no patch, no drain.
	Supported bool
	// Limits lists what works with limits at this version, one sentence each.
	Limits []string
	// Reason explains a refusal, naming the fix.
	Reason string

	// DrainDeadline reports whether the GCS knows DrainNodeRequest field 4
	// (deadline_timestamp_ms) and DrainNodeReply field 2
	// (rejection_reason_message). An older GCS skips the deadline and never
	// says why it rejected an idle drain.
	DrainDeadline bool
	// Labels reports whether the GCS reports label selectors
	// (ResourceRequest field 3, GangResourceRequest.bundle_selectors) and node
	// labels (NodeState field 13). An older GCS leaves them empty.
	Labels bool
	// Unverified reports a version newer than the newest checked against
	// Ray's sources (newestVerified), or a development build.
	Unverified bool
}

// Ray release boundaries; docs/ray-versions.md has the evidence for each.
var (
	// minSupported is the oldest Ray release whose autoscaler API the scaler
	// speaks: the first release proven to number DrainNodeReason
	// UNSPECIFIED 0, IDLE_TERMINATION 1, PREEMPTION 2 and to carry
	// ClusterResourceConstraint field 1 as repeated ResourceRequestByCount
	// (src/ray/protobuf/autoscaler.proto from 2023-08; 2.7 is not proven).
	minSupported = rayVersion{2, 8, 0}
	// drainDeadlineSince is the first release proven to carry
	// DrainNodeRequest.deadline_timestamp_ms and
	// DrainNodeReply.rejection_reason_message (Ray master 2024-02).
	drainDeadlineSince = rayVersion{2, 10, 0}
	// labelsSince is the first release proven to carry node labels and to
	// report label selectors (Ray master 2025-07).
	labelsSince = rayVersion{2, 49, 0}
	// newestVerified is the newest release line checked against Ray's
	// sources: the Ray master sources read document 2.52.0.
	newestVerified = rayVersion{2, 52, 0}
)

// rayVersion is a Ray release number.
type rayVersion struct{ major, minor, patch int }

// parsedVersion is a Ray version string taken apart.
type parsedVersion struct {
	rayVersion
	// dev marks a development build ("3.0.0.dev0"): a nightly or a build of
	// master, whatever its date.
	dev bool
	// local is the local version label after "+" ("2.9.3+corp5"): a build
	// patched by someone other than Ray.
	local string
}

// maxComponent bounds each number so that the comparison cannot overflow.
const maxComponent = 1 << 20

// parseRayVersion reads "2.52.0", "2.10", "2.9.3rc1", "3.0.0.dev0" or
// "2.9.3+corp5". Major and minor must be plain decimal numbers; a suffix
// after the patch number ("rc1", ".dev0", "+local") is allowed.
func parseRayVersion(s string) (parsedVersion, error) {
	s = strings.TrimSpace(s)
	var p parsedVersion
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s, p.local = s[:i], s[i+1:]
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return parsedVersion{}, fmt.Errorf("Ray version %q is not MAJOR.MINOR[.PATCH]", s)
	}
	var err error
	if p.major, err = component(parts[0]); err != nil {
		return parsedVersion{}, fmt.Errorf("Ray version %q: major: %w", s, err)
	}
	// "2.9rc1" is not a version Ray publishes; the minor must be digits.
	if p.minor, err = component(parts[1]); err != nil {
		return parsedVersion{}, fmt.Errorf("Ray version %q: minor: %w", s, err)
	}
	if len(parts) == 3 {
		rest := parts[2]
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		digits, suffix := rest, ""
		if i >= 0 {
			digits, suffix = rest[:i], rest[i:]
		}
		if digits == "" {
			return parsedVersion{}, fmt.Errorf("Ray version %q: patch %q is not a number", s, rest)
		}
		if p.patch, err = component(digits); err != nil {
			return parsedVersion{}, fmt.Errorf("Ray version %q: patch: %w", s, err)
		}
		p.dev = strings.Contains(strings.ToLower(suffix), "dev")
	}
	return p, nil
}

// component parses one version number: decimal digits only, no sign.
func component(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxComponent {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

func (v rayVersion) less(o rayVersion) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

func (v rayVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

// line is "MAJOR.MINOR", the release line of v.
func (v rayVersion) line() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// remedy is the fix for a refused version, named in every refusal.
var remedy = "upgrade the cluster's Ray to " + minSupported.String() + " or later, " +
	"or leave the cluster to KubeRay's in-tree autoscaler: set the annotation " +
	"raypilot.io/autoscaling: disabled and spec.enableInTreeAutoscaling: true " +
	"(KubeRay adds its autoscaler when it next creates the head pod)"

// labelOperatorLimit: Ray's GCS converts label selectors from its C++
// numbering, which was IN 0, NOT_IN 1 until a fix of 2025-07/08
// (github.com/ray-project/ray/pull/55106)
// made it match the proto's UNSPECIFIED 0, IN 1, NOT_IN 2. Which release
// first carries the fix is not established; Ray master of late 2025 does.
const labelOperatorLimit = "a label selector it reports may carry operators in Ray's older internal " +
	"numbering (IN as 0, NOT_IN as 1), read as never-matching and IN: the first release with Ray's fix " +
	"is not established"

// CheckRayVersion says what the scaler may do with a GCS that reported
// version (CheckAlive's ray_version).
func CheckRayVersion(version string) Compatibility {
	c := Compatibility{Version: version}
	if strings.TrimSpace(version) == "" {
		c.Reason = "the GCS did not report its Ray version, so the meaning of its drain reasons is unknown; " + remedy
		return c
	}
	p, err := parseRayVersion(version)
	if err != nil {
		c.Reason = err.Error() + ", so the meaning of its drain reasons is unknown; " + remedy
		return c
	}
	if p.less(minSupported) {
		c.Reason = fmt.Sprintf("Ray %q is older than %s, the oldest release proven to number drain reasons "+
			"as the scaler sends them (IDLE_TERMINATION = 1; earlier GCS builds read 1 as PREEMPTION); %s",
			version, minSupported, remedy)
		return c
	}
	c.Supported = true
	c.DrainDeadline = !p.less(drainDeadlineSince)
	c.Labels = !p.less(labelsSince)
	if p.dev {
		c.Unverified = true
		c.Limits = append(c.Limits, "Ray "+version+" is a development build: nightlies report the same version "+
			"whatever their date, so the scaler cannot tell which protocol it speaks; builds of Ray master "+
			"before 2023-08-08 number drain reasons differently and are unsafe")
	} else if newestVerified.line() != p.line() && newestVerified.less(p.rayVersion) {
		c.Unverified = true
		c.Limits = append(c.Limits, fmt.Sprintf("Ray %s is newer than %s, the newest release line checked "+
			"against Ray's protocol definitions; a changed field would go unnoticed", version, newestVerified.line()))
	}
	if p.local != "" {
		c.Limits = append(c.Limits, "Ray "+version+" is a patched build (local version \"+"+p.local+
			"\"); it is checked as the upstream release it names")
	}
	if !c.DrainDeadline {
		c.Limits = append(c.Limits, "Ray before "+drainDeadlineSince.line()+" has no drain deadline "+
			"(DrainNodeRequest field 4) and no rejection message (DrainNodeReply field 2): "+
			"a rejected idle drain comes without a reason")
	}
	switch {
	case !c.Labels:
		c.Limits = append(c.Limits, "Ray before "+labelsSince.line()+" may report no node labels "+
			"(NodeState field 13) and no label selectors on demand, so label-selector scheduling may go "+
			"unseen; "+labelOperatorLimit)
	case !p.dev && !newestVerified.less(rayVersion{p.major, p.minor, 0}):
		c.Limits = append(c.Limits, "Ray "+labelsSince.line()+" to "+newestVerified.line()+": "+labelOperatorLimit)
	}
	return c
}
