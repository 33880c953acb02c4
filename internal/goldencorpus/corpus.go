// Package goldencorpus reads the golden corpus of the expansion engine,
// defaults/testdata/expand, for the tests of each way into it: the engine
// (defaults), `raypilot expand` (manifest.Expand), the admission webhook
// (webhook) and KubeRay's judgement of the outputs (test/kuberay). Every
// one of them must render each case to the same NAME.golden.
//
// A case is NAME.yaml (the input: any number of documents), an optional
// NAME.policy.yaml (the policy; the built-in one otherwise) and NAME.golden
// (the warnings, the errors, then the output: see Render).
//
// It is test support: only tests import it.
package goldencorpus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// Dir is the corpus directory, relative to the repository root.
const Dir = "defaults/testdata/expand"

// Suffixes of a case's files.
const (
	InputSuffix  = ".yaml"
	PolicySuffix = ".policy.yaml"
	GoldenSuffix = ".golden"
)

// Namespace is the namespace of objects that name none, as
// `raypilot expand` defaults it and as the webhook tests create them.
const Namespace = "default"

// Case is one case of the corpus.
type Case struct {
	// Name is the case's file name without suffix.
	Name string
	// Dir is the corpus directory the case was read from.
	Dir string
	// Docs are the documents of NAME.yaml. manifest.Expand does not
	// modify them, so every door can be handed the same ones.
	Docs []manifest.Document
	// Policy is NAME.policy.yaml's, or defaults.DefaultPolicy().
	Policy *defaults.Policy
}

// GoldenPath is the path of NAME.golden.
func (c Case) GoldenPath() string { return filepath.Join(c.Dir, c.Name+GoldenSuffix) }

// Golden reads NAME.golden.
func (c Case) Golden() ([]byte, error) {
	data, err := os.ReadFile(c.GoldenPath())
	if err != nil {
		return nil, fmt.Errorf("golden case %s: %w", c.Name, err)
	}
	return data, nil
}

// Load reads every case of dir, in name order. A file that belongs to no
// case is an error, so that a renamed or deleted input does not leave its
// golden file or policy behind unchecked: a NAME.golden or
// NAME.policy.yaml without NAME.yaml, and any file that is none of the
// three kinds. A missing NAME.golden is not an error here (Golden reports
// it), so that a test can write it.
func Load(dir string) ([]Case, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("golden corpus: %w", err)
	}
	inputs := map[string]bool{}
	var others []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
			others = append(others, n)
		case strings.HasSuffix(n, PolicySuffix), strings.HasSuffix(n, GoldenSuffix):
			others = append(others, n)
		case strings.HasSuffix(n, InputSuffix):
			inputs[strings.TrimSuffix(n, InputSuffix)] = true
		default:
			others = append(others, n)
		}
	}
	var errs []error
	for _, n := range others {
		switch base := caseOf(n); {
		case base == "":
			errs = append(errs, fmt.Errorf("%s: not part of the corpus (want NAME%s, NAME%s or NAME%s)", filepath.Join(dir, n), InputSuffix, PolicySuffix, GoldenSuffix))
		case !inputs[base]:
			errs = append(errs, fmt.Errorf("%s: stale, %s does not exist (delete it, or restore the input)", filepath.Join(dir, n), base+InputSuffix))
		}
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var cases []Case
	for _, n := range names {
		c, err := read(dir, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cases = append(cases, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("golden corpus %s: no case", dir)
	}
	return cases, nil
}

// caseOf is the case a policy or golden file belongs to; "" for any
// other file.
func caseOf(file string) string {
	for _, s := range []string{PolicySuffix, GoldenSuffix} {
		if base, ok := strings.CutSuffix(file, s); ok && base != "" {
			return base
		}
	}
	return ""
}

func read(dir, name string) (Case, error) {
	c := Case{Name: name, Dir: dir, Policy: defaults.DefaultPolicy()}
	in := filepath.Join(dir, name+InputSuffix)
	data, err := os.ReadFile(in)
	if err != nil {
		return c, fmt.Errorf("golden case %s: %w", name, err)
	}
	if c.Docs, err = manifest.Read(bytes.NewReader(data), in); err != nil {
		return c, fmt.Errorf("golden case %s: %w", name, err)
	}
	pdata, err := os.ReadFile(filepath.Join(dir, name+PolicySuffix))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("golden case %s: %w", name, err)
	default:
		if c.Policy, err = defaults.ParsePolicy(pdata); err != nil {
			return c, fmt.Errorf("golden case %s: policy: %w", name, err)
		}
	}
	return c, nil
}
