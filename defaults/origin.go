package defaults

// Origins the engine sets on its errors (field.Error.Origin, which
// k8s.io/apimachinery: pkg/util/validation/field/errors.go defines as where
// an error was generated): the part of the engine that refused the object,
// so that callers count refusals by cause without reading messages, which
// quote the object. An error without an origin is a problem with the object
// itself (a field of the wrong type, a value out of range, a KubeRay rule).
// The values are metric label values (snake_case).
const (
	// OriginDecode: the object is not a JSON object.
	OriginDecode = "decode"
	// OriginTooLarge: past a bound on what the engine parses (the
	// raypilot.io/volumes annotations, MaxVolumesBytes and
	// MaxCompactVolumes).
	OriginTooLarge = "too_large"
	// OriginTemplateNotFound: a compute template the object names is
	// nowhere the engine looks.
	OriginTemplateNotFound = "template_not_found"
	// OriginTemplateInvalid: a compute template the object names exists but
	// cannot be used (unreadable, or in a namespace the webhook does not
	// watch: InvalidTemplateError).
	OriginTemplateInvalid = "template_invalid"
	// OriginPolicy: a limit of the policy (limits.*) refuses the object.
	OriginPolicy = "policy"
)
