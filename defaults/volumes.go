package defaults

import (
	"bytes"
	"encoding/json"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/quantity"
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

// ParseVolumes parses the raypilot.io/volumes annotation (a YAML or JSON
// list) and checks every entry; fld is the annotation's path for errors.
func ParseVolumes(text string, fld *field.Path) ([]CompactVolume, field.ErrorList) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, field.ErrorList{field.Invalid(fld, text, "must be a YAML or JSON list of volumes: "+err.Error())}
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, field.ErrorList{field.Invalid(fld, text, "must be a YAML or JSON list of volumes {name, mountPath, volumeType, source, ...}")}
	}
	var errs field.ErrorList
	vols := make([]CompactVolume, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&vols[i]); err != nil {
			errs = append(errs, field.Invalid(fld.Index(i), string(r), "must be a volume {name, mountPath, volumeType, source, items, readOnly, storage, storageClassName, accessMode, hostPathType, mountPropagationMode}: "+strings.TrimPrefix(err.Error(), "json: ")))
		}
	}
	seen := map[string]bool{}
	for i := range vols {
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
