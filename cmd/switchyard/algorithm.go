package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/algorithm/scenario/onstore"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// runAlgorithm is `switchyard algorithm check --scenarios FILE`: every scenario
// is loaded into the real store and resolved by the real resolver through the
// store's SQL.
func runAlgorithm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: switchyard algorithm check --scenarios FILE [--database-url URL]")
		return 2
	}
	fs := flag.NewFlagSet("switchyard algorithm check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files listFlag
	fs.Var(&files, "scenarios", "scenarios file (.json or .json.gz; repeatable)")
	url := fs.String("database-url", env("database-url", ""), "PostgreSQL or CockroachDB URL (env SWITCHYARD_DATABASE_URL); hack/with-postgres.sh gives a throwaway one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "error: give --scenarios FILE")
		return 2
	}
	st, err := store.Open(ctx, *url, slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // scenarios of each run get pipelines of their own
	passed, failed := 0, 0
	for _, file := range files {
		scenarios, err := scenario.Load(file)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		for _, s := range scenarios {
			switch {
			case s.HasTag("external_dataset"):
				fmt.Fprintf(stdout, "SKIP %s %s: needs an external dataset\n", s.ID, s.Name)
				continue
			case s.Expected == nil:
				fmt.Fprintf(stdout, "SKIP %s %s: no expected answer (benchmark only)\n", s.ID, s.Name)
				continue
			}
			diff, err := checkScenario(ctx, st, s, "scenario-"+run+"-"+s.ID)
			if err == nil && diff == "" {
				passed++
				fmt.Fprintf(stdout, "PASS %s %s\n", s.ID, s.Name)
				continue
			}
			failed++
			if err != nil {
				diff = err.Error()
			}
			fmt.Fprintf(stdout, "FAIL %s %s: %s\n", s.ID, s.Name, strings.ReplaceAll(diff, "\n", "\n    "))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func checkScenario(ctx context.Context, st *store.Store, s scenario.Scenario, pipeline string) (string, error) {
	w, err := onstore.Load(ctx, st, s, pipeline)
	if err != nil {
		return "", fmt.Errorf("load into the store: %w", err)
	}
	return scenario.Verify(ctx, s, w)
}
