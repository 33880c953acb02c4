// Command raypilot is one binary for raypilot's admission webhook, its
// central autoscaler and their offline tools.
package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code: 0 on
// success, 1 when the work failed, 2 on usage errors (see exitError).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	warnTo(root, stderr)
	cmd, err := root.ExecuteC()
	return report(cmd, err, stderr)
}

// warnTo sends pflag's warnings (a deprecated flag was used) of cmd and
// its subcommands to w: cobra would print them with Command.Print, on the
// command's stdout once SetOut is set, in the middle of expand's output.
func warnTo(cmd *cobra.Command, w io.Writer) {
	cmd.Flags().SetOutput(w)
	for _, c := range cmd.Commands() {
		warnTo(c, w)
	}
}
