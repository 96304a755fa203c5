// Command omni is omnibase-infra's single binary: run any subset of the roles, run the whole loop
// on one machine (dev), migrate the schema, and read the infrastructure state.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		// One line, however many problems the error joins.
		fmt.Fprintln(os.Stderr, "omni:", strings.ReplaceAll(err.Error(), "\n", "; "))
		stop()
		os.Exit(1)
	}
}
