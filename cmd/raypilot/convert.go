package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

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

// newConvertCommand is `raypilot convert`: exit 0 with the objects on
// stdout, 1 on conversion errors (one per line on stderr), 2 on usage and
// I/O errors.
func newConvertCommand() *cobra.Command {
	var files filenameFlags
	o := convertOptions{output: "yaml"}
	cmd := &cobra.Command{
		Use:     convertUse,
		Short:   convertShort,
		Long:    convertLong,
		Example: convertExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			paths, err := files.paths()
			if err != nil {
				return exitWith(2, err)
			}
			o.files = paths
			return convertRun(o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	files.addTo(fs, "file of API server requests")
	_ = cmd.MarkFlagRequired("filename")
	fs.StringVarP(&o.namespace, "namespace", "n", "", "namespace of objects whose request names none")
	fs.VarP(choiceFlag{&o.output, []string{"yaml", "json"}}, "output", "o", "output format: yaml or json")
	fs.StringVar(&o.kind, "kind", "", "kind of every request: ComputeTemplate, Cluster, RayJob or RayService")
	return cmd
}

// convertRun converts the files of o once its flags are read: nil with the
// objects on stdout, exit 1 with the conversion errors printed one per
// line on stderr, exit 2 on usage and I/O errors.
func convertRun(o convertOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	opts := apiserverconv.Options{Namespace: o.namespace}
	if o.kind != "" {
		kind, err := apiserverconv.ParseKind(o.kind)
		if err != nil {
			return usageErrorf("--kind: %v", err)
		}
		opts.Kind = kind
	}
	var inputs []apiserverconv.Input
	stdinRead := false
	for _, name := range o.files {
		if name == "-" {
			if stdinRead {
				return usageErrorf("-f - given twice: stdin can be read once")
			}
			stdinRead = true
		}
		in, err := readConvertInput(name, stdin)
		if err != nil {
			return exitWith(2, err)
		}
		inputs = append(inputs, in)
	}
	res := apiserverconv.Convert(inputs, opts)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(stderr, strings.Join(res.Errors, "\n"))
		return exitWith(1, nil)
	}
	render := apiserverconv.YAML
	if o.output == "json" {
		render = apiserverconv.JSON
	}
	data, err := render(res.Objects)
	if err != nil {
		return exitWith(2, err)
	}
	if _, err := stdout.Write(data); err != nil {
		return exitWith(2, err)
	}
	return nil
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
