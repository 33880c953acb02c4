package gcs

import (
	"fmt"
	"strconv"
	"strings"
)

// Compatibility is what the scaler may do with the GCS of one Ray version.
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
}

// minSupported is the oldest Ray release whose autoscaler API the scaler
// speaks: the first whose DrainNodeReason numbering is the current one.
var minSupported = rayVersion{2, 8, 0}

// rayVersion is a Ray release number.
type rayVersion struct{ major, minor, patch int }

// parseRayVersion reads "2.52.0", "2.9.3rc1" or "3.0.0.dev0"; a suffix after
// the patch number is ignored.
func parseRayVersion(s string) (rayVersion, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return rayVersion{}, fmt.Errorf("Ray version %q is not MAJOR.MINOR[.PATCH]", s)
	}
	var v rayVersion
	var err error
	if v.major, err = strconv.Atoi(parts[0]); err != nil {
		return rayVersion{}, fmt.Errorf("Ray version %q: major: %w", s, err)
	}
	if v.minor, err = strconv.Atoi(parts[1]); err != nil {
		return rayVersion{}, fmt.Errorf("Ray version %q: minor: %w", s, err)
	}
	if len(parts) == 3 {
		digits := parts[2]
		if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = digits[:i]
		}
		v.patch, _ = strconv.Atoi(digits)
	}
	return v, nil
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

// CheckRayVersion says what the scaler may do with a GCS that reported
// version (CheckAlive's ray_version).
func CheckRayVersion(version string) Compatibility {
	c := Compatibility{Version: version}
	if strings.TrimSpace(version) == "" {
		c.Reason = "the GCS did not report its Ray version, so the meaning of its drain reasons is unknown; " +
			"run Ray " + minSupported.String() + " or later"
		return c
	}
	v, err := parseRayVersion(version)
	if err != nil {
		c.Reason = err.Error() + "; run Ray " + minSupported.String() + " or later"
		return c
	}
	if v.less(minSupported) {
		c.Reason = fmt.Sprintf("Ray %s is older than %s, the oldest release whose autoscaler API the scaler speaks; "+
			"upgrade the cluster's Ray or set raypilot.io/autoscaling: in-tree", version, minSupported)
		return c
	}
	c.Supported = true
	return c
}
