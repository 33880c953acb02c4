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
	volumeJSON  map[*CompactVolume][2]any
	policyJSON  []byte
	headImage   string
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
	if c.policyJSON == nil {
		c.policyJSON, _ = jsontree.Encode(c.in.Policy)
	}
	h := contentHash(t, c.policyJSON)
	c.hashes[t] = h
	return h
}

var clusterAnnotations = field.NewPath("metadata", "annotations")

func (c *clusterExpansion) run() {
	c.templates = map[string]*Template{}
	c.hashes = map[*Template]string{}
	c.volumeJSON = map[*CompactVolume][2]any{}
	c.clusterRef, _ = c.annotations[AnnotationComputeTemplate].(string)
	if c.clusterRef == "" {
		c.clusterRef = c.in.Policy.Defaults.ComputeTemplate
	}
	if text, ok := c.annotations[AnnotationVolumes].(string); ok {
		vols, errs := c.parseVolumes(text, clusterAnnotations.Key(AnnotationVolumes))
		c.Errs = append(c.Errs, errs...)
		c.clusterVols = vols
	}
	c.rayVersion = c.Str(c.spec, "rayVersion", c.fld.Child("rayVersion"))

	headFld := c.fld.Child("headGroupSpec")
	if head := c.Object(c.spec, "headGroupSpec", headFld, false); head != nil {
		c.group(head, headFld, true)
	} else if _, present := c.spec["headGroupSpec"]; !present {
		c.Errs = append(c.Errs, field.Required(headFld, "every Ray cluster needs a head group; `headGroupSpec: {template: {}}` is enough"))
	}

	workersFld := c.fld.Child("workerGroupSpecs")
	workers, _ := c.List(c.spec, "workerGroupSpecs", workersFld)
	names := map[string]bool{}
	var groups []obj
	for i, w := range workers {
		wFld := workersFld.Index(i)
		wm, ok := w.(obj)
		if !ok {
			c.Errs = append(c.Errs, field.Invalid(wFld, w, "must be an object"))
			continue
		}
		c.groupName(wm, wFld, names)
		c.group(wm, wFld, false)
		c.replicas(wm, wFld)
		groups = append(groups, wm)
	}
	c.clusterWorkerLimit(groups, workersFld)
	c.autoscaling()
}

// group expands one head or worker group.
func (c *clusterExpansion) group(g obj, fld *field.Path, isHead bool) {
	tmplFld := fld.Child("template")
	tmpl := c.Object(g, "template", tmplFld, true)
	if tmpl == nil {
		return
	}
	metaFld := tmplFld.Child("metadata")
	tmeta := c.Object(tmpl, "metadata", metaFld, true)
	annFld := metaFld.Child("annotations")
	tann := c.StringMap(tmeta, "annotations", annFld, true)
	if tann == nil {
		return
	}
	ref, _ := tann[AnnotationComputeTemplate].(string)
	refFld := annFld.Key(AnnotationComputeTemplate)
	if ref == "" {
		ref, refFld = c.clusterRef, clusterAnnotations.Key(AnnotationComputeTemplate)
	}
	var tpl *Template
	if ref != "" {
		tpl = c.lookup(ref, refFld)
	}
	vols := pointers(c.clusterVols)
	if text, ok := tann[AnnotationVolumes].(string); ok {
		groupVols, errs := c.parseVolumes(text, annFld.Key(AnnotationVolumes))
		c.Errs = append(c.Errs, errs...)
		vols = mergeVolumes(vols, groupVols)
	}

	specFld := tmplFld.Child("spec")
	pspec := c.Object(tmpl, "spec", specFld, true)
	containers, ok := c.List(pspec, "containers", specFld.Child("containers"))
	if pspec == nil || !ok {
		return
	}
	if len(containers) == 0 {
		name := WorkerContainerName
		if isHead {
			name = HeadContainerName
		}
		containers = []any{obj{"name": name}}
		pspec["containers"] = containers
	}
	c0Fld := specFld.Child("containers").Index(0)
	c0, ok := containers[0].(obj)
	if !ok {
		c.Errs = append(c.Errs, field.Invalid(c0Fld, containers[0], "must be an object"))
		return
	}
	p := podTemplate{g: g, fld: fld, meta: tmeta, spec: pspec, specFld: specFld, containers: containers, ray: c0, rayFld: c0Fld, isHead: isHead}
	// Precedence, lowest first: built-in < policy default < template <
	// user < enforced. Template and policy defaults only fill what is
	// unset; enforcement comes after both, so nothing a template or the
	// user adds survives it; the built-ins and volumes then add what Ray
	// needs, from the final rayStartParams.
	c.applyTemplate(&p, tpl)
	c.applyPolicyDefaults(&p)
	c.enforcePolicy(&p)
	params := c.StringMap(g, "rayStartParams", fld.Child("rayStartParams"), false)
	c.applyBuiltins(&p, params)
	c.applyVolumes(&p, vols)
	if isHead {
		c.headImage, _ = c0["image"].(string)
	}
	// A reference that cannot be resolved (tolerated only on UPDATE) keeps
	// the audit hash of the expansion that did happen.
	if tpl != nil {
		tann[AnnotationComputeTemplate] = ref
		tann[AnnotationExpanded] = c.hash(tpl)
	} else if ref == "" {
		tann[AnnotationExpanded] = c.hash(nil)
	}
	c.checkGroup(&p, tpl, params)
}

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
	meta       obj // template.metadata
	spec       obj // template.spec
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
