package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/switchyard-ci/switchyard/api"
)

// setTeamQuota is fly set-team-quota (Switchyard's; admins): the most open
// steps, CPUs and memory a team's builds hold across the fleet at once, and
// its weight in the fleet's fair share. It sets them all: a flag left out is
// no bound (or weight 1).
func setTeamQuota(ctx context.Context, e *env, args []string) error {
	f := newFlags("set-team-quota", e)
	team := f.str("n", "team-name", "the team")
	steps := f.Int("max-steps", 0, "the most open steps (0: no bound)")
	cpu := f.Float64("max-cpu", 0, "the most CPUs its steps ask for (0: no bound)")
	memory := f.str("", "max-memory", "memory its steps ask for at most, such as 16Gi (empty: no bound)")
	weight := f.Float64("weight", 0, "the team's share of a full fleet against other teams' (0: 1)")
	if err := f.parse(args, team); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	q := api.TeamQuota{MaxSteps: *steps, MaxCPU: *cpu, MaxMemory: *memory, Weight: *weight}
	if _, err := c.Do(ctx, http.MethodPut, "/api/v1/teams/"+url.PathEscape(*team)+"/fleet-quota", nil, q, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "set the fleet quota of team '%s'\n", *team)
	return nil
}
