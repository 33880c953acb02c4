package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// subcommands are the constructors of raypilot's subcommands, in the order
// of the documentation; a new subcommand is a file with its constructor
// and a line here.
func subcommands() []func() *cobra.Command {
	return []func() *cobra.Command{
		newExpandCommand,
		newConvertCommand,
		newPlanCommand,
		newWebhookCommand,
		newScalerCommand,
		newVersionCommand,
	}
}

// newRootCommand is `raypilot`: without a subcommand it prints its usage on
// stderr and exits 2.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "raypilot",
		Short: "Ray on Kubernetes without the API server or autoscaler sidecar",
		Long: `raypilot: Ray on Kubernetes without the API server or autoscaler sidecar.

An admission webhook expands compact KubeRay RayCluster, RayJob and
RayService objects; a central scaler autoscales RayClusters over Ray's GCS;
expand and plan make the same two decisions offline.`,
		Example: `  # Expand a RayCluster with the compute templates it names
  raypilot expand -f examples/compute-template.yaml -f examples/raycluster.yaml

  # Show the help of a subcommand
  raypilot help expand`,
		Version: version,
		Args:    unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return exitWith(2, nil)
		},
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true,
		SilenceUsage:               true,
		// Shell completion is not offered: no hidden `completion` command.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetHelpCommand(newHelpCommand())
	for _, newCmd := range subcommands() {
		root.AddCommand(newCmd())
	}
	return root
}

// unknownSubcommand refuses any argument of the root command: a word that
// is no subcommand, with the subcommands it may have meant.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	err := fmt.Errorf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		err = fmt.Errorf("unknown command %q (did you mean %s?)", args[0], strings.Join(s, " or "))
	}
	return usageError(err)
}
