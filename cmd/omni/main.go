// Command omni is omnibase-infra's single binary: run any subset of the roles, run the whole loop
// on one machine (dev), migrate the schema, and read the infrastructure state.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		code := exitCode(err)
		fmt.Fprintln(os.Stderr, "omni:", errorText(err))
		if code == exitUsage && isCobraUsage(err) {
			fmt.Fprintln(os.Stderr, "Run 'omni --help' for usage.")
		}
		stop()
		os.Exit(code)
	}
}
