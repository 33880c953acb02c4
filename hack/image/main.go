// Command image builds raypilot's container image with no container engine:
// the static binary, a CA bundle and a passwd/group naming the non-root user
// 65532, in one layer, written as an OCI image archive. The same commit gives
// the same image digest (fixed timestamps, sorted entries, fixed owners and
// modes). It also pushes that archive to a registry, and writes the same
// files into a folder for the Dockerfile, so both images hold the same
// contents.
//
//	go run . build  [flags]   build bin/raypilot-image.tar, print REF@DIGEST
//	go run . push   --image REGISTRY/REPOSITORY [flags]
//	go run . rootfs --out DIR [flags]   the image's files, for the Dockerfile
//
// Run it from this folder (it is its own Go module); `make image` and
// `make image-push` do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  image build  [--src DIR] [--out FILE] [--repository REPO] [--version V] [--arch ARCH] [--revision REV]
  image push   --image REGISTRY/REPOSITORY [--archive FILE] [--tag TAG] [--insecure]
  image rootfs --out DIR [--src DIR] [--version V] [--arch ARCH]
Run "image COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = runBuild(ctx, args[1:], stdout, stderr)
	case "push":
		err = runPush(ctx, args[1:], stdout, stderr)
	case "rootfs":
		err = runRootfs(ctx, args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "image: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		if _, ok := err.(usageError); ok {
			fmt.Fprintf(stderr, "image %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "image %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError is a bad flag or argument (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }
