package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newVersionCommand is `raypilot version`.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "Print raypilot's version, as --version does.",
		Example: "  raypilot version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), version); err != nil {
				return failure(err)
			}
			return nil
		},
	}
}
