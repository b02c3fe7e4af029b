package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// migrate applies the embedded schema migrations; the hub does the same at start.
func migrate(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchyard migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("database-url", os.Getenv("SWITCHYARD_DATABASE_URL"), "PostgreSQL or CockroachDB URL (env SWITCHYARD_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	s, err := store.Open(ctx, *url, log)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}
