package goldencorpus

import (
	"encoding/json"
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
		items := make([]json.RawMessage, len(d.Items))
		d.Items = append([]manifest.Document(nil), d.Items...)
		admitted := false
		for i, it := range d.Items {
			it, ray, err := one(it)
			if err != nil {
				return nil, err
			}
			d.Items[i], items[i], admitted = it, it.JSON, admitted || ray
		}
		if admitted {
			var list map[string]json.RawMessage
			if err := json.Unmarshal(d.JSON, &list); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Source, err)
			}
			var err error
			if list["items"], err = json.Marshal(items); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Source, err)
			}
			if d.JSON, err = json.Marshal(list); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Source, err)
			}
			d.Text = nil
		}
		out.Documents = append(out.Documents, d)
	}
	return out, nil
}
