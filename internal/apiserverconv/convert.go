package apiserverconv

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
)

// Kind is the kind of an API server request.
type Kind string

// Request kinds, named after their proto messages.
const (
	KindComputeTemplate Kind = "ComputeTemplate"
	KindCluster         Kind = "Cluster"
	KindRayJob          Kind = "RayJob"
	KindRayService      Kind = "RayService"
)

// kinds lists the request kinds, in the order messages name them.
var kinds = []Kind{KindComputeTemplate, KindCluster, KindRayJob, KindRayService}

// Input is one file of requests: one JSON object, a JSON array of them, or
// several of either one after another.
type Input struct {
	// Source names the input in messages (a file name, or <stdin>).
	Source string
	Data   []byte
}

// Options adjust a conversion.
type Options struct {
	// Namespace is written into objects whose request names none; a
	// request naming another namespace is an error. Empty: requests keep
	// their own namespace, if any.
	Namespace string
	// Kind, when set, is the kind of every request; otherwise each
	// request's kind is told from its fields.
	Kind Kind
}

// Object is one converted Kubernetes object.
type Object struct {
	// Source names the request it came from.
	Source string
	value  omap
}

// Result is the outcome of Convert.
type Result struct {
	// Objects are the converted objects in input order; nil when Errors is
	// not empty.
	Objects []Object
	// Warnings are request fields converted with a change of meaning or
	// left out, each naming its field and why.
	Warnings []string
	// Errors are the problems, one per line, each naming its request and
	// field: fields that cannot be converted, unknown fields, wrong types.
	Errors []string
}

// Convert converts every request of inputs. It does no I/O.
func Convert(inputs []Input, opts Options) Result {
	var res Result
	for _, in := range inputs {
		raws, err := splitObjects(in.Source, in.Data)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		if len(raws) == 0 {
			res.Errors = append(res.Errors, in.Source+": no request in it (a JSON object, or a list of them)")
		}
		for _, raw := range raws {
			obj, warnings, errs := convertOne(raw, opts)
			for _, w := range warnings {
				res.Warnings = append(res.Warnings, raw.source+": "+w)
			}
			for _, e := range errs {
				res.Errors = append(res.Errors, raw.source+": "+e)
			}
			if len(errs) == 0 {
				obj.Source = raw.source
				res.Objects = append(res.Objects, obj)
			}
		}
	}
	if len(res.Errors) > 0 {
		res.Objects = nil
	}
	return res
}

// convertOne decodes and converts one request; errors are one per line.
func convertOne(raw rawObject, opts Options) (Object, []string, []string) {
	obj, warnings, errs, err := convertRequest(raw, opts)
	if err != nil {
		return Object{}, nil, []string{err.Error()}
	}
	// A cluster's envs are checked once per group: say each problem once.
	var lines []string
	seen := map[string]bool{}
	for _, e := range defaults.BoundErrors(errs) {
		if msg := e.Error(); !seen[msg] {
			seen[msg] = true
			lines = append(lines, msg)
		}
	}
	return obj, warnings, lines
}

// convertRequest is convertOne with the field errors as they are; err
// reports a request whose kind cannot be told.
func convertRequest(raw rawObject, opts Options) (Object, []string, field.ErrorList, error) {
	kind := opts.Kind
	if kind == "" {
		var err error
		if kind, err = detectKind(raw.obj); err != nil {
			return Object{}, nil, nil, err
		}
	}
	r := &reader{}
	var convert func(*converter) Object
	switch kind {
	case KindComputeTemplate:
		t := r.computeTemplate(raw.obj, nil)
		convert = func(c *converter) Object { return c.computeTemplate(t) }
	case KindCluster:
		cl := r.cluster(raw.obj, nil)
		convert = func(c *converter) Object { return c.cluster(cl) }
	case KindRayJob:
		j := r.rayJob(raw.obj, nil)
		convert = func(c *converter) Object { return c.rayJob(j) }
	case KindRayService:
		s := r.rayService(raw.obj, nil)
		convert = func(c *converter) Object { return c.rayService(s) }
	default:
		return Object{}, nil, nil, fmt.Errorf("unknown kind %q: one of %v", kind, kindNames())
	}
	var obj Object
	if len(r.errs) == 0 { // else conversion would only repeat them as missing fields
		obj = convert(&converter{reader: r, namespace: opts.Namespace})
	}
	return obj, r.warnings, r.errs, nil
}

func kindNames() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

// ParseKind reads a --kind value, in any case.
func ParseKind(s string) (Kind, error) {
	for _, k := range kinds {
		if strings.EqualFold(string(k), s) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown kind %q: one of %v", s, kindNames())
}
