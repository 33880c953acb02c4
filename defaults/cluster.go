package defaults

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// Ray container names the engine gives containers it creates.
const (
	HeadContainerName   = "ray-head"
	WorkerContainerName = "ray-worker"
)

// clusterExpansion expands one RayClusterSpec (of a RayCluster, or embedded
// in a RayJob or RayService) with the annotations of the enclosing object.
type clusterExpansion struct {
	*expander
	namespace   string
	meta        obj // the enclosing object's metadata
	annotations obj // its annotations; may be nil
	spec        obj
	fld         *field.Path
	serve       serveNeed

	clusterRef  string
	clusterVols []CompactVolume
	rayVersion  string
	templates   map[string]*Template // lookups by name, each done once
	hashes      map[*Template]string // audit hash per template used
	// volumeJSON is the pod volume and mount of each compact volume, built
	// once per expansion; cachedVolumeJSON holds those of Input.Volumes,
	// which belong to the cache and are never written.
	volumeJSON       map[*CompactVolume][2]any
	cachedVolumeJSON map[*CompactVolume][2]any
	policyJSON       []byte
	headImage        string
	// headResources is what the head pod asks for, without KubeRay's
	// in-tree autoscaler container.
	headResources podResources
	// headSpec is the head's pod spec, for checks that add KubeRay's
	// containers to it.
	headSpec obj
}

// hash is the audit hash for t (nil: no template), computed once.
func (c *clusterExpansion) hash(t *Template) string {
	if h, ok := c.hashes[t]; ok {
		return h
	}
	h := c.in.Hashes.hash(c.in.Policy, t, func() []byte {
		if c.policyJSON == nil {
			c.policyJSON, _ = jsontree.Encode(c.in.Policy)
		}
		return c.policyJSON
	})
	c.hashes[t] = h
	return h
}

var (
	clusterAnnotations = field.NewPath("metadata", "annotations")
	clusterLabels      = field.NewPath("metadata", "labels")
)

// serveNeed is what KubeRay's serve Service needs from the head container.
type serveNeed uint8

const (
	// serveNone: no serve Service is built from the head's ports.
	serveNone serveNeed = iota
	// serveRequired: a port named "serve" is required.
	serveRequired
	// serveOwnService: a RayService with its own spec.serveService, which
	// KubeRay uses when the head has no "serve" port.
	serveOwnService
)

// podTemplate is the part of a group the expansion rules work on.
type podTemplate struct {
	g          obj // the group
	fld        *field.Path
	tmpl       obj // the pod template
	meta       obj // its metadata; nil until metadata creates it
	metaFld    *field.Path
	spec       obj // its spec
	specFld    *field.Path
	containers []any
	ray        obj // containers[0]
	rayFld     *field.Path
	isHead     bool
	// isSubmitter marks a RayJob's submitter pod: containers[0] is not a
	// Ray container, and it has no group.
	isSubmitter bool
}

// mergeVolumes puts a group's volumes over the cluster's (same name: the
// group's wins). Pointers keep each volume's identity, so its JSON form is
// built once per expansion however many groups use it.
func mergeVolumes(cluster []*CompactVolume, group []CompactVolume) []*CompactVolume {
	out := make([]*CompactVolume, 0, len(cluster)+len(group))
	inGroup := map[string]bool{}
	for _, v := range group {
		inGroup[v.Name] = true
	}
	for _, v := range cluster {
		if !inGroup[v.Name] {
			out = append(out, v)
		}
	}
	return append(out, pointers(group)...)
}

func pointers(vols []CompactVolume) []*CompactVolume {
	out := make([]*CompactVolume, len(vols))
	for i := range vols {
		out[i] = &vols[i]
	}
	return out
}

// metadata returns the pod template's metadata, created on first use: a
// RayJob's submitter template gets metadata only when a rule writes some.
func (p *podTemplate) metadata(c *clusterExpansion) obj {
	if p.meta == nil {
		p.meta = c.Object(p.tmpl, "metadata", p.metaFld, true)
	}
	return p.meta
}
