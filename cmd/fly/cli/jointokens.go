package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// Join tokens at run time (Switchyard's, not Concourse's): the target's
// team's, or with --pool the shared pool's (admins).

// joinTokensPath is where a team's (or the pool's) join tokens live.
func joinTokensPath(team string, pool bool) string {
	if pool {
		return "/api/v1/join-tokens"
	}
	return "/api/v1/teams/" + url.PathEscape(team) + "/join-tokens"
}

func joinTokens(ctx context.Context, e *env, args []string) error {
	f := newFlags("join-tokens", e)
	pool := f.boolean("", "pool", "the shared pool's tokens (admins)")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.Parse(args); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var out []api.JoinToken
	if err := c.Get(ctx, joinTokensPath(t.Team, *pool), &out); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(out)
	}
	rows := [][]string{}
	for _, j := range out {
		team, expires := j.Team, "never"
		if team == "" {
			team = "pool"
		}
		if j.ExpiresAt != nil {
			expires = j.ExpiresAt.Local().Format(time.RFC3339)
			if j.Expired {
				expires += " (expired)"
			}
		}
		rows = append(rows, []string{j.Name, team, expires, j.CreatedBy, j.CreatedAt.Local().Format(time.RFC3339)})
	}
	e.table([]string{"name", "team", "expires", "created by", "created"}, rows)
	return nil
}

func createJoinToken(ctx context.Context, e *env, args []string) error {
	f := newFlags("create-join-token", e)
	name := f.str("n", "name", "the token's name")
	pool := f.boolean("", "pool", "a token of the shared pool (admins)")
	expires := f.str("", "expires-in", "how long it lasts, such as 24h (default: until revoked)")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var j api.JoinToken
	if _, err := c.Do(ctx, http.MethodPost, joinTokensPath(t.Team, *pool), nil, api.NewJoinToken{Name: *name, ExpiresIn: *expires}, &j); err != nil {
		return err
	}
	return showJoinToken(e, j)
}

func rotateJoinToken(ctx context.Context, e *env, args []string) error {
	c, path, _, err := namedJoinToken(ctx, e, "rotate-join-token", args)
	if err != nil {
		return err
	}
	var j api.JoinToken
	if _, err := c.Do(ctx, http.MethodPut, path+"/rotate", nil, nil, &j); err != nil {
		return err
	}
	return showJoinToken(e, j)
}

func revokeJoinToken(ctx context.Context, e *env, args []string) error {
	c, path, name, err := namedJoinToken(ctx, e, "revoke-join-token", args)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodDelete, path, nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked join token '%s': it joins no more spokes (those that joined with it stay)\n", name)
	return nil
}

// namedJoinToken parses the flags of a command on one token (-n, --pool)
// and returns a client, the token's path and its name.
func namedJoinToken(ctx context.Context, e *env, cmd string, args []string) (*api.Client, string, string, error) {
	f := newFlags(cmd, e)
	name := f.str("n", "name", "the token's name")
	pool := f.boolean("", "pool", "a token of the shared pool (admins)")
	if err := f.parse(args, name); err != nil {
		return nil, "", "", err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return nil, "", "", err
	}
	return c, joinTokensPath(t.Team, *pool) + "/" + url.PathEscape(*name), *name, nil
}

// revokeWorkerCredential disconnects a spoke: its credential is void.
func revokeWorkerCredential(ctx context.Context, e *env, args []string) error {
	f := newFlags("revoke-worker-credential", e)
	name := f.str("w", "worker", "the spoke")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodDelete, "/api/v1/workers/"+url.PathEscape(*name)+"/credential", nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked the credential of '%s': it is disconnected, and its steps move once its lease runs out\n", *name)
	return nil
}

// showJoinToken prints a token made or rotated: the only time it is shown.
func showJoinToken(e *env, j api.JoinToken) error {
	team := j.Team
	if team == "" {
		team = "the shared pool"
	}
	fmt.Fprintf(e.stdout, "join token '%s' for %s (shown once; the hub keeps only its hash):\n%s\n", j.Name, team, j.Token)
	if j.ExpiresAt != nil {
		fmt.Fprintf(e.stdout, "expires %s\n", j.ExpiresAt.Local().Format(time.RFC3339))
	}
	return nil
}
