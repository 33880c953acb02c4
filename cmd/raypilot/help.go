package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// newHelpCommand is `raypilot help [COMMAND]`: the help of a command on
// stdout, or a usage error for a topic that is no command (cobra's own help
// command prints the root's help for it and exits 0).
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Print the help of a command (as COMMAND --help does), or of raypilot.",
		Example: `  raypilot help
  raypilot help expand`,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("unknown help topic %q", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}
