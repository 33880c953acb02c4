package goldencorpus

import (
	"fmt"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// Verdict is a door's answer on one RayCluster, RayJob or RayService.
type Verdict struct {
	// Object is the object as admitted; ignored when Errors is not empty.
	Object []byte
	// Warnings and Errors are in field-error form ("field: detail").
	Warnings, Errors []string
}

// AdmitEach builds the output of a door that admits one object at a time,
// as the webhook does: it calls admit on every RayCluster, RayJob and
// RayService of docs, the items of list documents included (kubectl
// creates those one by one), and gathers the verdicts in input order the
// way manifest.Expand does: an admitted object is printed as admit
// returned it, every other document as written. docs are not modified.
func AdmitEach(docs []manifest.Document, admit func(manifest.Document) (Verdict, error)) (*manifest.Output, error) {
	out := &manifest.Output{}
	one := func(d manifest.Document) (manifest.Document, bool, error) {
		if !defaults.IsExpandable(d.Kind) {
			return d, false, nil
		}
		v, err := admit(d)
		if err != nil {
			return d, true, fmt.Errorf("%s: %w", d.Source, err)
		}
		out.Warnings = append(out.Warnings, v.Warnings...)
		out.Errors = append(out.Errors, v.Errors...)
		if len(v.Errors) == 0 {
			d.JSON, d.Text = v.Object, nil
		}
		return d, true, nil
	}
	for _, d := range docs {
		if d.Items == nil {
			d, _, err := one(d)
			if err != nil {
				return nil, err
			}
			out.Documents = append(out.Documents, d)
			continue
		}
		d.Items = append([]manifest.Document(nil), d.Items...)
		admitted := false
		for i, it := range d.Items {
			it, ray, err := one(it)
			if err != nil {
				return nil, err
			}
			d.Items[i], admitted = it, admitted || ray
		}
		if admitted {
			var err error
			if d, err = manifest.RejoinItems(d); err != nil {
				return nil, err
			}
		}
		out.Documents = append(out.Documents, d)
	}
	return out, nil
}
