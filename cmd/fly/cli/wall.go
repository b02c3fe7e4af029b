package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// setWall is fly set-wall -m MESSAGE [--ttl DURATION]: a message every page
// of the web UI and get-wall show (admins only).
func setWall(ctx context.Context, e *env, args []string) error {
	f := newFlags("set-wall", e)
	message := f.str("m", "message", "message to broadcast")
	ttl := f.str("", "ttl", "time-to-live for the message (e.g. 1h30m); none: it stays until cleared")
	if err := f.parse(args, message); err != nil {
		return err
	}
	w := api.Wall{Message: *message}
	if *ttl != "" {
		d, err := time.ParseDuration(*ttl)
		if err != nil || d < 0 {
			return fmt.Errorf("--ttl %q: give a duration such as 1h30m", *ttl)
		}
		w.ExpiresIn = d
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodPut, "/api/v1/wall", nil, w, nil)
	return err
}

// getWall is fly get-wall.
func getWall(ctx context.Context, e *env, args []string) error {
	if err := newFlags("get-wall", e).parse(args); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	var w api.Wall
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/wall", nil, nil, &w); err != nil {
		return err
	}
	if w.Message == "" {
		fmt.Fprintln(e.stdout, "no wall message is set")
		return nil
	}
	fmt.Fprintln(e.stdout, w.Message)
	if w.ExpiresIn > 0 {
		fmt.Fprintf(e.stdout, "\nexpires in %s\n", w.ExpiresIn.Round(time.Second))
	}
	return nil
}

// clearWall is fly clear-wall.
func clearWall(ctx context.Context, e *env, args []string) error {
	if err := newFlags("clear-wall", e).parse(args); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodDelete, "/api/v1/wall", nil, nil, nil)
	return err
}
