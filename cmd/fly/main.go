// Command fly is Switchyard's CLI: the commands, flags and ~/.flyrc of
// Concourse's fly 8.2, plus fleet commands. Only validate-pipeline is built so
// far; the others say so.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchyard-ci/switchyard/pipeline/validatecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	// Global options come before the command, as in fly: -t/--target NAME.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-t" || args[0] == "--target":
			if len(args) < 2 {
				fmt.Fprintln(stderr, "error: expected argument for flag `-t, --target'")
				return 2
			}
			args = args[2:]
		case strings.HasPrefix(args[0], "--target="):
			args = args[1:]
		case args[0] == "-h" || args[0] == "--help":
			fmt.Fprintln(stdout, "usage: fly [-t TARGET] COMMAND [FLAGS]\n\ncommands:\n  validate-pipeline (vp)   validate a pipeline config")
			return 0
		default:
			fmt.Fprintf(stderr, "error: unknown flag `%s'\n", args[0])
			return 2
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Please specify one command of: validate-pipeline")
		return 1
	}
	switch args[0] {
	case "validate-pipeline", "vp":
		return validatecmd.Run("fly", args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "error: fly command %q is not available yet in Switchyard's fly; today it has validate-pipeline (the rest arrives with the hub, see README.md)\n", args[0])
	return 1
}
