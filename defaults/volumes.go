package defaults

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/jsontree"
	"github.com/raypilot/raypilot/internal/quantity"
	"github.com/raypilot/raypilot/internal/yamlguard"
)

// AnnotationVolumes carries compact volumes in the KubeRay API server's shape.
const AnnotationVolumes = "raypilot.io/volumes"

// Volume types of a compact volume.
const (
	VolumeConfigMap = "CONFIGMAP"
	VolumeSecret    = "SECRET"
	VolumePVC       = "PERSISTENT_VOLUME_CLAIM"
	VolumeHostPath  = "HOST_PATH"
	VolumeEmptyDir  = "EMPTY_DIR"
	VolumeEphemeral = "EPHEMERAL"
)

var sourceHint = map[string]string{
	VolumeConfigMap: "the name of the ConfigMap to mount",
	VolumeSecret:    "the name of the Secret to mount",
	VolumePVC:       "the name of the PersistentVolumeClaim to mount",
	VolumeHostPath:  "the absolute host path to mount",
}

var volumeTypes = []string{VolumeConfigMap, VolumeSecret, VolumePVC, VolumeHostPath, VolumeEmptyDir, VolumeEphemeral}

// CompactVolume is one entry of the raypilot.io/volumes annotation.
type CompactVolume struct {
	Name                 string            `json:"name"`
	MountPath            string            `json:"mountPath"`
	VolumeType           string            `json:"volumeType"`
	Source               string            `json:"source,omitempty"`
	Items                map[string]string `json:"items,omitempty"`
	ReadOnly             bool              `json:"readOnly,omitempty"`
	Storage              string            `json:"storage,omitempty"`
	StorageClassName     string            `json:"storageClassName,omitempty"`
	AccessMode           string            `json:"accessMode,omitempty"`
	HostPathType         string            `json:"hostPathType,omitempty"`
	MountPropagationMode string            `json:"mountPropagationMode,omitempty"`
}

// MaxCompactVolumes bounds the entries of one raypilot.io/volumes
// annotation. Kubernetes sets no limit on a pod's volumes, but every entry
// becomes a volume and a mount in every pod of every group it applies to,
// and a pod with hundreds of volumes is a mistake more often than a design:
// 256 is twice the largest per-node attach limit of the common block-storage
// CSI drivers (128), and far above what the KubeRay API server's compact
// volumes were used for.
const MaxCompactVolumes = 256

// MaxVolumesBytes bounds the text of the raypilot.io/volumes annotations
// of one object together (the object's own and every group's): room for
// MaxCompactVolumes entries of 256 bytes. YAML parses at a few MB/s, so
// this keeps parsing an object's volumes to milliseconds however many
// groups carry them; a larger text is refused before it is parsed. (The
// API server bounds an object's own annotations to 256 KiB,
// TotalAnnotationSizeLimitB in k8s.io/apimachinery/pkg/api/validation, but
// not the annotations of the pod templates inside a custom resource.)
const MaxVolumesBytes = 64 << 10

// MaxAnnotationJSON bounds what an annotation's YAML may expand to through
// aliases: twice MaxVolumesBytes, which no text without aliases reaches.
const MaxAnnotationJSON = 2 * MaxVolumesBytes

// volumeKeys are the keys of a compact volume, case-sensitive.
var volumeKeys = []string{"name", "mountPath", "volumeType", "source", "items", "readOnly", "storage", "storageClassName", "accessMode", "hostPathType", "mountPropagationMode"}

var volumeShape = "must be a volume {" + strings.Join(volumeKeys, ", ") + "}"

// ParseVolumes parses the raypilot.io/volumes annotation (a YAML or JSON
// list) and checks every entry; fld is the annotation's path for errors.
// Nothing in the text is dropped silently: a second YAML document, a key
// written twice or in another case, NaN and aliases expanding past
// MaxAnnotationJSON are errors.
func ParseVolumes(text string, fld *field.Path) ([]CompactVolume, field.ErrorList) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	notList := func(detail string) field.ErrorList {
		return field.ErrorList{field.Invalid(fld, text, "must be a YAML or JSON list of volumes"+detail)}
	}
	if len(text) > MaxVolumesBytes {
		return nil, field.ErrorList{&field.Error{Type: field.ErrorTypeTooLong, Field: fld.String(), BadValue: "", Origin: OriginTooLarge, Detail: fmt.Sprintf(
			"may not be more than %d bytes (it has %d): it holds at most %d volumes; mount a few ConfigMaps or Secrets with several items, or one volume with subdirectories, instead of one volume per file",
			MaxVolumesBytes, len(text), MaxCompactVolumes)}}
	}
	// Checked before converting: the conversion expands aliases.
	rep, err := yamlguard.Check([]byte(text), fld, yamlguard.Limits{MaxExpandedBytes: MaxAnnotationJSON, MaxDepth: yamlguard.MaxDepth})
	if err != nil {
		return nil, notList(": " + err.Error())
	}
	if rep.Items > MaxCompactVolumes {
		return nil, field.ErrorList{tooManyVolumes(fld, rep.Items)}
	}
	if len(rep.Errors) > 0 {
		return nil, rep.Errors
	}
	doc, ok := rep.Value()
	if !ok {
		// Aliases, tags, merge keys: converted by the decoder that defines
		// them.
		js, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			return nil, notList(": " + err.Error())
		}
		if doc, err = jsontree.Decode(js); err != nil {
			return nil, notList(": " + err.Error())
		}
	}
	var raw []any
	switch d := doc.(type) {
	case nil:
		return nil, nil // only comments
	case []any:
		raw = d
	default:
		return nil, notList(" {name, mountPath, volumeType, source, ...}")
	}
	if len(raw) > MaxCompactVolumes {
		return nil, field.ErrorList{tooManyVolumes(fld, len(raw))}
	}
	var errs field.ErrorList
	vols := make([]CompactVolume, len(raw))
	for i, r := range raw {
		errs = append(errs, decodeVolume(r, &vols[i], fld.Index(i))...)
	}
	seen := make(map[string]bool, len(vols))
	for i := range vols {
		if _, ok := raw[i].(obj); !ok {
			continue // not a volume at all: nothing more to say
		}
		errs = append(errs, vols[i].validate(fld.Index(i))...)
		if vols[i].Name != "" {
			if seen[vols[i].Name] {
				errs = append(errs, field.Duplicate(fld.Index(i).Child("name"), vols[i].Name))
			}
			seen[vols[i].Name] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return vols, nil
}

func tooManyVolumes(fld *field.Path, n int) *field.Error {
	return &field.Error{Type: field.ErrorTypeTooMany, Field: fld.String(), BadValue: n, Origin: OriginTooLarge, Detail: fmt.Sprintf(
		"must have at most %d volumes; mount a few ConfigMaps or Secrets with several items, or one volume with subdirectories, instead of one volume per file", MaxCompactVolumes)}
}

// parseVolumes is ParseVolumes within the object's budget of annotation
// text (MaxVolumesBytes for all of them), so that many groups each with a
// large annotation cannot multiply the parsing time.
func (c *clusterExpansion) parseVolumes(text string, fld *field.Path) ([]CompactVolume, field.ErrorList) {
	if len(text) > MaxVolumesBytes {
		return ParseVolumes(text, fld) // refused on its own
	}
	reported := c.volumeBytes > MaxVolumesBytes
	c.volumeBytes += len(text)
	if reported {
		return nil, nil // the object is refused already; nothing more is parsed
	}
	if c.volumeBytes > MaxVolumesBytes {
		return nil, field.ErrorList{&field.Error{Type: field.ErrorTypeTooLong, Field: fld.String(), BadValue: "", Origin: OriginTooLarge, Detail: fmt.Sprintf(
			"the %s annotations of this object add up to more than %d bytes; write volumes the groups share once, in the object's own annotation",
			AnnotationVolumes, MaxVolumesBytes)}}
	}
	return c.parseVolumesCached(text, fld)
}

// decodeVolume fills v from one decoded entry. Keys are matched exactly
// (encoding/json would fold VolumeType into volumeType, and let SOURCE
// overwrite source); a value of the wrong type is an error naming its
// field, never a Go type.
func decodeVolume(r any, v *CompactVolume, fld *field.Path) field.ErrorList {
	m, ok := r.(obj)
	if !ok {
		return field.ErrorList{field.Invalid(fld, r, volumeShape)}
	}
	var errs field.ErrorList
	unknown := ""
	for _, k := range sortedKeys(m) {
		if !slices.Contains(volumeKeys, k) {
			unknown = k
			break
		}
	}
	if unknown != "" {
		detail := fmt.Sprintf("%s: unknown field %q", volumeShape, unknown)
		for _, known := range volumeKeys {
			if strings.EqualFold(known, unknown) {
				detail += fmt.Sprintf(" (keys are case-sensitive: write %q)", known)
			}
		}
		entry, _ := jsontree.Encode(m)
		errs = append(errs, field.Invalid(fld, string(entry), detail))
	}
	str := func(key string, into *string) {
		switch x := m[key].(type) {
		case nil:
		case string:
			*into = x
		default:
			errs = append(errs, field.Invalid(fld.Child(key), x, "must be a string"))
		}
	}
	str("name", &v.Name)
	str("mountPath", &v.MountPath)
	str("volumeType", &v.VolumeType)
	str("source", &v.Source)
	str("storage", &v.Storage)
	str("storageClassName", &v.StorageClassName)
	str("accessMode", &v.AccessMode)
	str("hostPathType", &v.HostPathType)
	str("mountPropagationMode", &v.MountPropagationMode)
	switch x := m["readOnly"].(type) {
	case nil:
	case bool:
		v.ReadOnly = x
	default:
		errs = append(errs, field.Invalid(fld.Child("readOnly"), x, "must be true or false"))
	}
	switch x := m["items"].(type) {
	case nil:
	case obj:
		v.Items = make(map[string]string, len(x))
		for _, k := range sortedKeys(x) {
			if s, ok := x[k].(string); ok {
				v.Items[k] = s
			} else {
				errs = append(errs, field.Invalid(fld.Child("items").Key(k), x[k], "must be a string (a file path)"))
			}
		}
	default:
		errs = append(errs, field.Invalid(fld.Child("items"), x, "must be a map of keys to file paths"))
	}
	return errs
}

func (v *CompactVolume) validate(fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), "a DNS-1123 label naming the pod volume"))
	} else if msgs := validation.IsDNS1123Label(v.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(fld.Child("name"), v.Name, strings.Join(msgs, "; ")))
	}
	if v.MountPath == "" {
		errs = append(errs, field.Required(fld.Child("mountPath"), "an absolute path in the Ray container"))
	} else if !path.IsAbs(v.MountPath) {
		errs = append(errs, field.Invalid(fld.Child("mountPath"), v.MountPath, "must be an absolute path"))
	}
	switch v.VolumeType {
	case "":
		errs = append(errs, field.Required(fld.Child("volumeType"), "one of "+strings.Join(volumeTypes, ", ")))
	case VolumeConfigMap, VolumeSecret, VolumePVC, VolumeHostPath:
		if v.Source == "" {
			errs = append(errs, field.Required(fld.Child("source"), sourceHint[v.VolumeType]))
		}
	case VolumeEphemeral:
		if v.Storage == "" {
			errs = append(errs, field.Required(fld.Child("storage"), "the size of the ephemeral volume, e.g. 10Gi"))
		}
	case VolumeEmptyDir:
	default:
		errs = append(errs, field.NotSupported(fld.Child("volumeType"), v.VolumeType, volumeTypes))
	}
	if v.Storage != "" {
		if _, err := quantity.Parse(v.Storage); err != nil {
			errs = append(errs, field.Invalid(fld.Child("storage"), v.Storage, "must be a quantity such as 10Gi"))
		}
	}
	if v.VolumeType == VolumeHostPath && v.Source != "" && !path.IsAbs(v.Source) {
		errs = append(errs, field.Invalid(fld.Child("source"), v.Source, "a host path must be absolute"))
	}
	if _, ok := accessModes[v.AccessMode]; !ok {
		errs = append(errs, field.NotSupported(fld.Child("accessMode"), v.AccessMode, []string{"RWO", "ROX", "RWX"}))
	}
	if _, ok := hostPathTypes[v.HostPathType]; !ok {
		errs = append(errs, field.NotSupported(fld.Child("hostPathType"), v.HostPathType, []string{"DIRECTORY", "FILE"}))
	}
	if _, ok := propagationModes[v.MountPropagationMode]; !ok {
		errs = append(errs, field.NotSupported(fld.Child("mountPropagationMode"), v.MountPropagationMode, []string{"NONE", "HOSTTOCONTAINER", "BIDIRECTIONAL"}))
	}
	for _, k := range slices.Sorted(maps.Keys(v.Items)) {
		if v.VolumeType != VolumeConfigMap && v.VolumeType != VolumeSecret {
			errs = append(errs, field.Forbidden(fld.Child("items"), "only CONFIGMAP and SECRET volumes have items"))
			break
		}
		if v.Items[k] == "" || path.IsAbs(v.Items[k]) {
			errs = append(errs, field.Invalid(fld.Child("items").Key(k), v.Items[k], "must be a relative file path"))
		} else if slices.Contains(strings.Split(v.Items[k], "/"), "..") {
			// Kubernetes' rule for key-to-path items (validateLocalDescendingPath).
			errs = append(errs, field.Invalid(fld.Child("items").Key(k), v.Items[k], "must not contain '..'"))
		}
	}
	return errs
}

var accessModes = map[string]corev1.PersistentVolumeAccessMode{
	"": corev1.ReadWriteOnce, "RWO": corev1.ReadWriteOnce, "ROX": corev1.ReadOnlyMany, "RWX": corev1.ReadWriteMany,
}

var hostPathTypes = map[string]corev1.HostPathType{
	"": corev1.HostPathDirectory, "DIRECTORY": corev1.HostPathDirectory, "FILE": corev1.HostPathFile,
}

var propagationModes = map[string]*corev1.MountPropagationMode{
	"": nil, "NONE": nil,
	"HOSTTOCONTAINER": ptrTo(corev1.MountPropagationHostToContainer),
	"BIDIRECTIONAL":   ptrTo(corev1.MountPropagationBidirectional),
}

func ptrTo[T any](v T) *T { return &v }

// PodVolume is the pod volume a (validated) compact volume becomes, as the
// KubeRay API server builds it; items are sorted by key.
func (v *CompactVolume) PodVolume() corev1.Volume {
	out := corev1.Volume{Name: v.Name}
	var items []corev1.KeyToPath
	for _, k := range slices.Sorted(maps.Keys(v.Items)) {
		items = append(items, corev1.KeyToPath{Key: k, Path: v.Items[k]})
	}
	switch v.VolumeType {
	case VolumeConfigMap:
		out.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: v.Source}, Items: items}
	case VolumeSecret:
		out.Secret = &corev1.SecretVolumeSource{SecretName: v.Source, Items: items}
	case VolumePVC:
		out.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.Source, ReadOnly: v.ReadOnly}
	case VolumeHostPath:
		out.HostPath = &corev1.HostPathVolumeSource{Path: v.Source, Type: ptrTo(hostPathTypes[v.HostPathType])}
	case VolumeEmptyDir:
		out.EmptyDir = &corev1.EmptyDirVolumeSource{}
		if v.Storage != "" {
			out.EmptyDir.SizeLimit = ptrTo(resource.MustParse(v.Storage))
		}
	case VolumeEphemeral:
		spec := corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{accessModes[v.AccessMode]},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(v.Storage)}},
		}
		if v.StorageClassName != "" {
			spec.StorageClassName = ptrTo(v.StorageClassName)
		}
		out.Ephemeral = &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: spec}}
	}
	return out
}

// Mount is the Ray container's mount of the volume.
func (v *CompactVolume) Mount() corev1.VolumeMount {
	return corev1.VolumeMount{Name: v.Name, MountPath: v.MountPath, ReadOnly: v.ReadOnly, MountPropagation: propagationModes[v.MountPropagationMode]}
}

// volumeIndex holds the volume names of a pod template and the mount names
// and paths of its Ray container, so that adding n compact volumes to a pod
// with m volumes costs O(n + m), not n scans of m.
type volumeIndex struct {
	volumes, mounts, paths map[string]bool
}

func newVolumeIndex(volumes, mounts []any) volumeIndex {
	idx := volumeIndex{volumes: make(map[string]bool, len(volumes)), mounts: make(map[string]bool, len(mounts)), paths: make(map[string]bool, len(mounts))}
	for _, v := range volumes {
		if m, ok := v.(obj); ok {
			if name, ok := m["name"].(string); ok {
				idx.volumes[name] = true
			}
		}
	}
	for _, v := range mounts {
		if m, ok := v.(obj); ok {
			if name, ok := m["name"].(string); ok {
				idx.mounts[name] = true
			}
			if p, ok := m["mountPath"].(string); ok {
				idx.paths[p] = true
			}
		}
	}
	return idx
}

// addVolume reports whether the pod has no volume named name, and records it.
func (idx volumeIndex) addVolume(name string) bool {
	if idx.volumes[name] {
		return false
	}
	idx.volumes[name] = true
	return true
}

// addMount reports whether the Ray container mounts nothing named name or
// at mountPath, and records both.
func (idx volumeIndex) addMount(name, mountPath string) bool {
	if idx.mounts[name] || idx.paths[mountPath] {
		return false
	}
	idx.mounts[name], idx.paths[mountPath] = true, true
	return true
}
