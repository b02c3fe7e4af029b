// Command switchyard is the one binary of the hub side: hub, spoke,
// onboard, validate-pipeline, migrate, algorithm and policy.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard-ci/switchyard/pipeline/validatecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: switchyard COMMAND [FLAGS]

commands:
  validate-pipeline -c FILE [-v NAME=VALUE] [-y NAME=YAML] [-l VARS.yml] [-s] [-o]
                 check a Concourse pipeline config without a hub
  migrate --database-url URL
                 apply the store's schema migrations
  hub --database-url URL --add-local-user NAME:PASS --main-team-local-user NAME --spoke-join-token TOKEN
                 serve Concourse's API and run builds
  spoke --hub-url URL --join-token TOKEN [--name NAME] [--work-dir DIR]
                 run steps placed on this spoke (local runtime)
  onboard --hub-url URL --hub-username USER --hub-password PASS --image IMAGE [--kubeconfig FILE]
                 install spokes into Cluster API clusters as they come (and remove them as they go)
  algorithm check --scenarios FILE [--database-url URL]
                 load input-algorithm scenarios into the store and check the resolver
  policy test -p POLICY [-p POLICY ...] INPUT.json ...
                 place steps with placement policies, for policy authors' CI
  policy build -f POLICY.rego -o POLICY.wasm
                 compile a Rego policy for OPA's WASM ABI

Every flag also reads SWITCHYARD_<FLAG> from the environment.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "validate-pipeline", "vp":
		return validatecmd.Run("switchyard", args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stderr)
	case "hub":
		return runHub(ctx, args[1:], stdout, stderr)
	case "spoke":
		return runSpoke(ctx, args[1:], stdout, stderr)
	case "onboard":
		return runOnboard(ctx, args[1:], stderr)
	case "algorithm":
		return runAlgorithm(ctx, args[1:], stdout, stderr)
	case "policy":
		return runPolicy(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", args[0], usage)
	return 2
}
