package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raypilot/raypilot/internal/apiserverconv"
)

// The help of `raypilot convert`, for its command definition.
const (
	convertUse   = "convert -f FILENAME [-f FILENAME ...] [-n NAMESPACE] [-o yaml|json] [--kind KIND]"
	convertShort = "Convert KubeRay API server requests into compact YAML for kubectl apply"
	convertLong  = `Convert the JSON request bodies of the KubeRay API server (v1: compute
templates, clusters, jobs and services, as sent with curl) into the compact
objects raypilot expands: a ComputeTemplate for each compute template, and
a RayCluster, RayJob or RayService naming its templates, with its volumes
in the raypilot.io/volumes annotation.

A file holds one JSON object, a JSON array of them, or several one after
another. Each request's kind is told from its fields; --kind sets it when
a request cannot be told (it then applies to every request). Every field
is converted the way the API server used it. A field that cannot be
converted, an unknown field (which the API server silently ignored) and a
value of the wrong type are errors: nothing is printed on stdout and each
error is one line on stderr naming the request and the field. Fields
converted with a change, or ignored as the API server ignored them, are
warnings on stderr prefixed "Warning: ".

Exit 0 on success, 1 on conversion errors, 2 on usage and I/O errors.`
	convertExample = `  # The compute template and the cluster, ready for kubectl apply
  raypilot convert -f compute-template.json -f cluster.json | kubectl apply -f -

  # A request body from stdin, into namespace team-a, as JSON
  raypilot convert -f - -n team-a -o json < cluster.json

  # A request whose fields fit several kinds
  raypilot convert --kind RayJob -f job.json`
)

// convertOptions are the flags of `raypilot convert`.
type convertOptions struct {
	// files are the inputs; "-" is stdin.
	files []string
	// namespace goes into objects whose request names none; a request
	// naming another is an error.
	namespace string
	// output is yaml or json.
	output string
	// kind, when set, is every request's kind (apiserverconv.ParseKind).
	kind string
}

// runConvert is `raypilot convert` with its flags: -f/--filename
// (repeatable, - is stdin), -n/--namespace, -o/--output yaml|json, --kind.
// It returns the exit code: 0 with the objects on stdout, 1 on conversion
// errors (one per line on stderr), 2 on usage and I/O errors.
func runConvert(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := convertOptions{output: "yaml"}
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	files := stringsFlag{&o.files}
	fs.Var(files, "f", "file of API server requests (repeatable; - is stdin)")
	fs.Var(files, "filename", "same as -f")
	fs.StringVar(&o.namespace, "n", "", "namespace of objects whose request names none")
	fs.StringVar(&o.namespace, "namespace", "", "same as -n")
	fs.StringVar(&o.output, "o", "yaml", "output format: yaml or json")
	fs.StringVar(&o.output, "output", "yaml", "same as -o")
	fs.StringVar(&o.kind, "kind", "", "kind of every request: ComputeTemplate, Cluster, RayJob or RayService")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "raypilot convert: unexpected arguments %q\nusage: raypilot %s\n", fs.Args(), convertUse)
		return 2
	}
	return convertRun(o, stdin, stdout, stderr)
}

// convertRun converts the files of o once its flags are read, and returns
// the exit code as runConvert does.
func convertRun(o convertOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "raypilot convert: "+format+"\nusage: raypilot %s\n", append(args, convertUse)...)
		return 2
	}
	if len(o.files) == 0 {
		return usage("no input: name the request files with -f (- is stdin)")
	}
	if o.output != "yaml" && o.output != "json" {
		return usage("-o %q: yaml or json", o.output)
	}
	opts := apiserverconv.Options{Namespace: o.namespace}
	if o.kind != "" {
		kind, err := apiserverconv.ParseKind(o.kind)
		if err != nil {
			return usage("--kind: %v", err)
		}
		opts.Kind = kind
	}
	var inputs []apiserverconv.Input
	stdinRead := false
	for _, name := range o.files {
		if name == "-" {
			if stdinRead {
				return usage("-f - given twice: stdin can be read once")
			}
			stdinRead = true
		}
		in, err := readConvertInput(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "raypilot convert: %v\n", err)
			return 2
		}
		inputs = append(inputs, in)
	}
	res := apiserverconv.Convert(inputs, opts)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(stderr, strings.Join(res.Errors, "\n"))
		return 1
	}
	render := apiserverconv.YAML
	if o.output == "json" {
		render = apiserverconv.JSON
	}
	data, err := render(res.Objects)
	if err != nil {
		fmt.Fprintf(stderr, "raypilot convert: %v\n", err)
		return 2
	}
	if _, err := stdout.Write(data); err != nil {
		fmt.Fprintf(stderr, "raypilot convert: %v\n", err)
		return 2
	}
	return 0
}

// readConvertInput reads one input ("-": stdin), at most one byte more
// than apiserverconv.MaxInputBytes, so that a larger one is refused
// without being read whole.
func readConvertInput(name string, stdin io.Reader) (apiserverconv.Input, error) {
	r, source := stdin, "<stdin>"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return apiserverconv.Input{}, err
		}
		defer f.Close()
		r, source = f, name
	}
	data, err := io.ReadAll(io.LimitReader(r, apiserverconv.MaxInputBytes+1))
	if err != nil {
		return apiserverconv.Input{}, fmt.Errorf("%s: %w", source, err)
	}
	return apiserverconv.Input{Source: source, Data: data}, nil
}

// stringsFlag is a repeatable string flag.
type stringsFlag struct{ values *[]string }

func (f stringsFlag) String() string {
	if f.values == nil {
		return ""
	}
	return strings.Join(*f.values, ",")
}

func (f stringsFlag) Set(v string) error { *f.values = append(*f.values, v); return nil }
