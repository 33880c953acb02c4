// Command raypilot is one binary for raypilot's admission webhook and its
// offline tools.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

const usage = `raypilot: Ray on Kubernetes without the API server or autoscaler sidecar.

Usage:
  raypilot expand  -f FILE [-f FILE ...] [--policy FILE] [--namespace NS] [-o yaml|json]
  raypilot plan    --raycluster FILE --ray-state FILE [--pods FILE] [--policy FILE] [--now RFC3339]
  raypilot webhook [flags]
  raypilot scaler  [flags]
  raypilot version

Run "raypilot COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "expand":
		return runExpand(args[1:], stdin, stdout, stderr)
	case "plan":
		return runPlan(args[1:], stdout, stderr)
	case "webhook":
		return runWebhook(args[1:], stderr)
	case "scaler":
		return runScaler(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "raypilot: unknown command %q\n\n%s", args[0], usage)
	return 2
}
