package apiserverconv

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

// volumes converts each group's volumes into raypilot's compact volumes
// (the raypilot.io/volumes annotation, which takes the API server's volume
// fields as they are: buildVols and buildVolumeMounts in KubeRay v1.5.0
// apiserver/pkg/util/cluster.go). Each group's list is checked as raypilot
// will check it, with errors naming the request's fields. The volumes
// every group starts with, in the same order, are returned for the
// cluster's annotation; the rest of each group's list goes into the
// group's own annotation (raypilot puts a group's after the cluster's, so
// every pod keeps the request's order).
func (c *converter) volumes(groups []*group) string {
	lists := make([][]omap, len(groups))
	for i, g := range groups {
		for _, v := range g.Volumes {
			lists[i] = append(lists[i], compactVolume(v))
		}
		if text := volumeText(lists[i]); text != "" {
			if _, errs := defaults.ParseVolumes(text, g.fld.Child("volumes")); len(errs) > 0 {
				c.errs = append(c.errs, errs...)
			}
		}
	}
	shared := len(lists[0])
	for _, l := range lists[1:] {
		shared = min(shared, commonPrefix(lists[0], l))
	}
	cluster := volumeText(lists[0][:shared])
	total := len(cluster)
	for i, g := range groups {
		g.volumes = volumeText(lists[i][shared:])
		total += len(g.volumes)
	}
	if total > defaults.MaxVolumesBytes {
		c.errs = append(c.errs, &field.Error{Type: field.ErrorTypeTooLong, Field: groups[0].fld.Child("volumes").String(), BadValue: "", Detail: fmt.Sprintf(
			"the groups' volumes come to %d bytes of %s annotations, more than raypilot takes for one object (%d): mount a few ConfigMaps or Secrets with several items, and give the groups the same volumes first, which are then written once",
			total, defaults.AnnotationVolumes, defaults.MaxVolumesBytes)})
	}
	return cluster
}

// compactVolume is v with the keys of defaults.CompactVolume, leaving out
// the values that are the API server's defaults (hostPathType DIRECTORY,
// mountPropagationMode NONE, accessMode RWO). volumeType is always
// written: the API server's default (PERSISTENT_VOLUME_CLAIM) is not
// raypilot's (none).
func compactVolume(v *volumeReq) omap {
	m := omap{}.with("name", v.Name).with("mountPath", v.MountPath).with("volumeType", v.VolumeType)
	if v.Source != "" {
		m = m.with("source", v.Source)
	}
	if len(v.Items) > 0 {
		m = m.with("items", sortedMap(v.Items))
	}
	if v.ReadOnly {
		m = m.with("readOnly", true)
	}
	for _, f := range []struct{ key, val, def string }{
		{"storage", v.Storage, ""},
		{"storageClassName", v.StorageClassName, ""},
		{"accessMode", v.AccessMode, accessModes[0]},
		{"hostPathType", v.HostPathType, hostPathTypes[0]},
		{"mountPropagationMode", v.MountPropagationMode, propagationModes[0]},
	} {
		if f.val != "" && f.val != f.def {
			m = m.with(f.key, f.val)
		}
	}
	return m
}

func commonPrefix(a, b []omap) int {
	n := 0
	for n < len(a) && n < len(b) && slices.EqualFunc(a[n], b[n], equalKV) {
		n++
	}
	return n
}

func equalKV(x, y kv) bool {
	if x.key != y.key {
		return false
	}
	if xm, ok := x.val.(omap); ok {
		ym, ok := y.val.(omap)
		return ok && slices.EqualFunc(xm, ym, equalKV)
	}
	return x.val == y.val
}

// volumeText is the annotation's text: one flow mapping per line, as the
// examples write it; "" for no volumes.
func volumeText(vols []omap) string {
	if len(vols) == 0 {
		return ""
	}
	var buf strings.Builder
	for _, v := range vols {
		n := yamlNode(v)
		flow(n)
		var line bytes.Buffer
		enc := yaml.NewEncoder(&line)
		// Encoding a mapping of strings and booleans cannot fail.
		_ = enc.Encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
		_ = enc.Close()
		buf.Write(line.Bytes())
	}
	return buf.String()
}

// flow sets n and its children to flow style ({a: b, c: {d: e}}).
func flow(n *yaml.Node) {
	n.Style = yaml.FlowStyle
	for _, ch := range n.Content {
		if ch.Kind == yaml.MappingNode {
			flow(ch)
		}
	}
}
