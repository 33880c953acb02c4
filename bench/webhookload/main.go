// Command webhookload drives a real `raypilot webhook` process over HTTPS
// with keep-alive at fixed request rates and reports p50 / p99 / max latency
// and errors, next to a baseline measured in the same run: an in-process
// HTTPS server with the same TLS settings that decodes the same
// AdmissionReview and encodes an allowed response through controller-runtime's
// admission.Webhook, without any expansion.
//
// The webhook needs an API server for its template informers; an envtest
// control plane is started from $RAYPILOT_TOOLS_BIN (hack/tools.sh bin-dir).
//
//	RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir) go run ./bench/webhookload -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/raypilot/raypilot/internal/testcp"
)

type config struct {
	rates       []int
	duration    time.Duration
	out         string
	connections int
	binary      string
}

func main() {
	var c config
	var rates string
	flag.StringVar(&rates, "rates", "100,500,1000,2000", "comma-separated request rates per second")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long each rate is held")
	flag.StringVar(&c.out, "out", "", "optional file for the results as JSON")
	flag.IntVar(&c.connections, "connections", 8, "keep-alive HTTPS connections per target")
	flag.StringVar(&c.binary, "binary", "", "raypilot binary; empty: go build ./cmd/raypilot from the repository root")
	flag.Parse()
	for _, f := range strings.Split(rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "webhookload: bad rate %q\n", f)
			os.Exit(2)
		}
		c.rates = append(c.rates, r)
	}
	if c.connections <= 0 || c.duration <= 0 {
		fmt.Fprintln(os.Stderr, "webhookload: -connections and -duration must be positive")
		os.Exit(2)
	}
	ctrllog.SetLogger(zapr.NewLogger(zap.NewNop()))
	// The generator's own GC pauses would show up as latency of whichever
	// target is being measured; keep them rare (the webhook sets its own:
	// GOGC 400, cmd/raypilot/gcpercent.go).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	env, err := setup(ctx, c.binary)
	if err != nil {
		if env != nil {
			env.close()
		}
		return err
	}
	defer env.close()

	fmt.Printf("webhookload: GOMAXPROCS %d, NumCPU %d, %d connections per target, %s per rate\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), c.connections, c.duration)
	fmt.Printf("webhook  %s (separate process, pid %d)\nbaseline %s (in-process: decode + encode, no expansion)\n\n",
		env.webhookURL, env.proc.Pid(), env.baselineURL)

	targets := []*target{
		newTarget("webhook", env.webhookURL, env.caPool, c.connections),
		newTarget("baseline", env.baselineURL, env.caPool, c.connections),
	}
	for _, t := range targets {
		if err := t.warmUp(env.review); err != nil {
			return fmt.Errorf("warm-up %s: %w", t.name, err)
		}
	}
	printHeader()
	var results []result
	for _, rate := range c.rates {
		for _, t := range targets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r := t.run(ctx, rate, c.duration, env.review)
			printRow(r)
			results = append(results, r)
			time.Sleep(500 * time.Millisecond) // let the last responses drain
		}
	}
	if c.out != "" {
		if err := testcp.WriteJSON(c.out, results); err != nil {
			return err
		}
		fmt.Printf("\nresults written to %s\n", c.out)
	}
	return nil
}
