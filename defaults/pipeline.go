package defaults

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// run expands one RayClusterSpec. Precedence, lowest first:
//
//	built-in < policy default < compute template < user < enforced
//
// Every step but enforcement fills only what is still unset, so the
// filling steps run from the highest precedence down: the user's fields
// are there before anything runs, then the compute template fills, then
// the policy's defaults, then the built-ins. Enforcement overwrites, so it
// runs after every step that fills a field it owns (policyFields); the
// built-ins touch no enforceable field and read the final rayStartParams,
// so they run after it. The steps, in order:
//
//  1. cluster: read the compute-template reference (the cluster's
//     annotation, else defaults.computeTemplate), the compact volumes
//     and spec.rayVersion;
//  2. per group, the head first, then each worker group after its name
//     is checked (groupName): resolve the group's template reference (its
//     pod template's annotation over the cluster's) and look it up;
//     merge its compact volumes over the cluster's, by name;
//  3. per group: give a pod template without containers its Ray container;
//  4. per group: fill the compute template (applyTemplate);
//  5. per group: fill the policy's defaults (applyPolicyDefaults);
//  6. per group: enforce the policy's enforced fields (enforcePolicy);
//  7. per group: add the built-ins, then the compact volumes
//     (applyBuiltins, applyVolumes);
//  8. per group: record the template used and the audit hash;
//  9. per group: check the pod and the group (checkGroup); a worker group
//     then gets its replicas filled and checked (replicas);
//  10. cluster: check the worker cap (clusterWorkerLimit);
//  11. cluster: hand autoscaling off, or fill and hold the in-tree
//     autoscaler sidecar to the policy (autoscaling).
//
// Then, for a RayJob, expander.root holds the submitter pod to the policy:
// steps 5, 6 and the pod checks of 9 (submitter).
func (c *clusterExpansion) run() {
	c.templates = map[string]*Template{}
	c.hashes = map[*Template]string{}
	c.volumeJSON = map[*CompactVolume][2]any{}
	c.cachedVolumeJSON = map[*CompactVolume][2]any{}
	// 1.
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

	// 2 to 9.
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
	// 10.
	c.clusterWorkerLimit(groups, workersFld)
	// 11.
	c.autoscaling()
}

// group expands one head or worker group: steps 2 to 9 of run.
func (c *clusterExpansion) group(g obj, fld *field.Path, isHead bool) {
	// 2.
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

	// 3.
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
	p := podTemplate{g: g, fld: fld, tmpl: tmpl, meta: tmeta, metaFld: metaFld, spec: pspec, specFld: specFld,
		containers: containers, ray: c0, rayFld: c0Fld, isHead: isHead}

	c.applyTemplate(&p, tpl)  // 4.
	c.applyPolicyDefaults(&p) // 5.
	c.enforcePolicy(&p)       // 6.
	params := c.StringMap(g, "rayStartParams", fld.Child("rayStartParams"), false)
	c.applyBuiltins(&p, params) // 7.
	c.applyVolumes(&p, vols)
	if isHead {
		c.headImage, _ = c0["image"].(string)
	}

	// 8. A reference that cannot be resolved (tolerated only on UPDATE)
	// keeps the audit hash of the expansion that did happen.
	if tpl != nil {
		tann[AnnotationComputeTemplate] = ref
		tann[AnnotationExpanded] = c.hash(tpl)
	} else if ref == "" {
		tann[AnnotationExpanded] = c.hash(nil)
	}

	// 9.
	c.checkGroup(&p, tpl, params)
}
