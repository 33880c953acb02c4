package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// newExpandCommand is `raypilot expand`: exit 0 with the expanded
// documents on stdout, 1 with every field error on stderr (of the engine,
// of the KubeRay CRD schema, or of a document that is not an object as
// written), 2 on usage, I/O and YAML syntax errors.
func newExpandCommand() *cobra.Command {
	var (
		files      filenameFlags
		policyFile string
		namespace  string
		output     = "yaml"
	)
	cmd := &cobra.Command{
		Use:   "expand -f FILENAME [flags]",
		Short: "Expand RayClusters, RayJobs and RayServices offline, as the webhook would",
		Long: `Expand every RayCluster, RayJob and RayService of the files (also as items
of a List) with the compute templates the files hold, and print all
documents: the Ray objects expanded, every other one unchanged.

The verdict is the webhook's: the embedded KubeRay CRD schemas prune,
default and validate around the engine as the API server does. On
validation errors nothing is printed on stdout and each error is one line
on stderr after the object it is about (KIND NAMESPACE/NAME: ); warnings go to
stderr prefixed "Warning: " and the object.
Exit 0 on success, 1 on validation errors, 2 on usage, I/O and YAML syntax
errors.`,
		Example: `  # Expand a RayCluster with the ComputeTemplate it names, then apply it
  raypilot expand -f examples/compute-template.yaml -f examples/raycluster.yaml | kubectl apply -f -

  # Every manifest of a directory tree, objects without a namespace in team-a, as JSON
  raypilot expand -R -f manifests/ -n team-a -o json

  # From stdin, with the policy document the Helm chart mounts
  kubectl get raycluster my-cluster -o yaml | raypilot expand -f - --policy policy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			policy := defaults.DefaultPolicy()
			if policyFile != "" {
				data, err := os.ReadFile(policyFile)
				if err != nil {
					return exitWith(2, err)
				}
				if policy, err = defaults.ParsePolicy(data); err != nil {
					return exitWith(2, fmt.Errorf("%s: %w", policyFile, err))
				}
			}
			paths, err := files.paths()
			if err != nil {
				return exitWith(2, err)
			}
			var docs []manifest.Document
			for _, p := range paths {
				d, err := readDocuments(p, cmd.InOrStdin())
				var bad *manifest.Error
				if errors.As(err, &bad) {
					// A document that is YAML but not a Kubernetes object as
					// written: field errors, like the engine's.
					fmt.Fprintln(cmd.ErrOrStderr(), bad.Error())
					return exitWith(1, nil)
				}
				if err != nil {
					return exitWith(2, err)
				}
				docs = append(docs, d...)
			}
			out, err := manifest.Expand(docs, policy, namespace)
			if err != nil {
				return exitWith(2, err)
			}
			stderr := cmd.ErrOrStderr()
			for _, v := range out.Verdicts {
				for _, w := range v.Warnings {
					fmt.Fprintf(stderr, "Warning: %s: %s\n", objectName(v), w)
				}
			}
			if len(out.Errors) > 0 {
				for _, v := range out.Verdicts {
					for _, e := range v.Errors {
						fmt.Fprintf(stderr, "%s: %s\n", objectName(v), e)
					}
				}
				return exitWith(1, nil)
			}
			render := manifest.YAML
			if output == "json" {
				render = manifest.JSON
			}
			data, err := render(out.Documents)
			if err != nil {
				return exitWith(2, err)
			}
			if _, err := cmd.OutOrStdout().Write(data); err != nil {
				return exitWith(2, err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	files.addTo(fs, "file of YAML or JSON documents")
	_ = cmd.MarkFlagRequired("filename")
	fs.StringVar(&policyFile, "policy", "", "policy document (keys defaults, enforce, limits)")
	fs.StringVarP(&namespace, "namespace", "n", "default", "namespace of objects that name none")
	fs.VarP(choiceFlag{&output, []string{"yaml", "json"}}, "output", "o", "output format: yaml, or json (one object, or a v1 List)")
	return cmd
}

// objectName names the object of v as kubectl's messages do:
// `RayCluster team/my-cluster`; one without a name by its place in the
// input.
func objectName(v manifest.Verdict) string {
	if v.Name == "" {
		return fmt.Sprintf("%s (%s)", v.Kind, v.Source)
	}
	return fmt.Sprintf("%s %s/%s", v.Kind, v.Namespace, v.Name)
}
