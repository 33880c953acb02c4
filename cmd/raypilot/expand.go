package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// fileList is a repeatable -f flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// runExpand is `raypilot expand`: exit 0 with the expanded documents on
// stdout, 1 with every field error on stderr (of the engine, of the KubeRay
// CRD schema, or of a document that is not an object as written), 2 on
// usage, I/O and YAML syntax errors.
func runExpand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("expand", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "file of YAML documents (repeatable; - is stdin)")
	policyFile := fs.String("policy", "", "policy document (keys defaults, enforce, limits)")
	namespace := fs.String("namespace", "default", "namespace of objects that name none")
	output := fs.String("o", "yaml", "output format: yaml or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(files) == 0 || fs.NArg() > 0 || (*output != "yaml" && *output != "json") {
		fmt.Fprintln(stderr, "usage: raypilot expand -f FILE [-f FILE ...] [--policy FILE] [--namespace NS] [-o yaml|json]")
		return 2
	}
	policy := defaults.DefaultPolicy()
	if *policyFile != "" {
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			fmt.Fprintf(stderr, "raypilot expand: %v\n", err)
			return 2
		}
		if policy, err = defaults.ParsePolicy(data); err != nil {
			fmt.Fprintf(stderr, "raypilot expand: %s: %v\n", *policyFile, err)
			return 2
		}
	}
	var docs []manifest.Document
	for _, name := range files {
		d, err := readFile(name, stdin)
		var bad *manifest.Error
		if errors.As(err, &bad) {
			// A document that is YAML but not a Kubernetes object as
			// written: field errors, like the engine's.
			fmt.Fprintln(stderr, bad.Error())
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "raypilot expand: %v\n", err)
			return 2
		}
		docs = append(docs, d...)
	}
	out, err := manifest.Expand(docs, policy, *namespace)
	if err != nil {
		fmt.Fprintf(stderr, "raypilot expand: %v\n", err)
		return 2
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if len(out.Errors) > 0 {
		for _, e := range out.Errors {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	render := manifest.YAML
	if *output == "json" {
		render = manifest.JSON
	}
	data, err := render(out.Documents)
	if err != nil {
		fmt.Fprintf(stderr, "raypilot expand: %v\n", err)
		return 2
	}
	_, _ = stdout.Write(data)
	return 0
}

func readFile(name string, stdin io.Reader) ([]manifest.Document, error) {
	if name == "-" {
		return manifest.Read(stdin, "<stdin>")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return manifest.Read(f, name)
}
