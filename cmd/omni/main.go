// Command omni is omnibase-infra's single binary: run any subset of the roles, run the whole loop
// on one machine (dev), migrate the schema, and read the infrastructure state.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/omninode/omnibase-infra/platform/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Tracing, from the OTEL_* variables (off when none names an endpoint); flushed on the way out.
	stopTracing, err := telemetry.Start(ctx, telemetry.FromEnv(os.Getenv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "omni:", err)
		os.Exit(exitUsage)
	}
	err = newRootCmd().ExecuteContext(ctx)
	flushTracing(stopTracing)
	if err != nil {
		code := exitCode(err)
		fmt.Fprintln(os.Stderr, "omni:", errorText(err))
		if code == exitUsage && isCobraUsage(err) {
			fmt.Fprintln(os.Stderr, "Run 'omni --help' for usage.")
		}
		stop()
		os.Exit(code)
	}
}

// flushTracing exports the spans still buffered, waiting at most five seconds for the collector.
func flushTracing(stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "omni: could not flush the traces:", err)
	}
}
