// Command fly is Switchyard's CLI: the commands, flags and ~/.flyrc of
// Concourse's fly 8.2 (see package cli), plus fleet commands as they land.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard-ci/switchyard/cmd/fly/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
