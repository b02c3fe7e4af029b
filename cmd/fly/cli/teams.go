package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// teamConfig is set-team's -c file, as Concourse's: roles, each with its
// connectors' users and groups. Switchyard has the local and oidc
// connectors.
type teamConfig struct {
	Roles []struct {
		Line  int
		Name  string `yaml:"name"`
		Local *struct {
			Users []string `yaml:"users"`
		} `yaml:"local"`
		OIDC *struct {
			Users  []string `yaml:"users"`
			Groups []string `yaml:"groups"`
		} `yaml:"oidc"`
	} `yaml:"roles"`
}

// maxTeamFile bounds a team config file.
const maxTeamFile = 1 << 20

func readTeamConfig(file string) (api.TeamAuth, error) {
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxTeamFile {
		return nil, fmt.Errorf("%s: %d bytes, over the limit of %d for a team config", file, info.Size(), maxTeamFile)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cfg teamConfig
	if err := pipeline.DecodeFile(file, data, &cfg); err != nil {
		return nil, fmt.Errorf("%w\n(a team config has roles: [{name, local: {users}, oidc: {users, groups}}])", err)
	}
	auth := api.TeamAuth{}
	for _, r := range cfg.Roles {
		if r.Name == "" {
			return nil, fmt.Errorf("%s:%d: a role has no name: name it owner, member, pipeline-operator or viewer", file, r.Line)
		}
		m := auth[r.Name]
		if r.Local != nil {
			for _, u := range r.Local.Users {
				m.Users = append(m.Users, "local:"+strings.ToLower(u))
			}
		}
		if r.OIDC != nil {
			for _, u := range r.OIDC.Users {
				m.Users = append(m.Users, "oidc:"+strings.ToLower(u))
			}
			for _, g := range r.OIDC.Groups {
				m.Groups = append(m.Groups, "oidc:"+strings.ToLower(g))
			}
		}
		if len(m.Users)+len(m.Groups) == 0 {
			return nil, fmt.Errorf("%s:%d: role %s has no users and no groups: give it some, or leave it out (an empty role would let everyone in)", file, r.Line, r.Name)
		}
		auth[r.Name] = m
	}
	if len(auth) == 0 {
		return nil, fmt.Errorf("%s: auth config for the team must not be empty", file)
	}
	return auth, nil
}

func setTeam(ctx context.Context, e *env, args []string) error {
	f := newFlags("set-team", e)
	name := f.str("n", "team-name", "the team to create or change")
	file := f.str("c", "config", "team config file (roles with local and oidc users and groups)")
	locals := f.list("", "local-user", "a local user, as an owner")
	oidcUsers := f.list("", "oidc-user", "an OIDC user, as an owner")
	oidcGroups := f.list("", "oidc-group", "an OIDC group, as an owner")
	yes := f.boolean("", "non-interactive", "apply without asking")
	if err := f.parse(args, name); err != nil {
		return err
	}
	if strings.Contains(*name, "/") {
		return errors.New("team name cannot contain '/'")
	}
	var auth api.TeamAuth
	if *file != "" {
		var err error
		if auth, err = readTeamConfig(*file); err != nil {
			return err
		}
	} else {
		var owner api.RoleMembers
		for _, u := range *locals {
			owner.Users = append(owner.Users, "local:"+strings.ToLower(u))
		}
		for _, u := range *oidcUsers {
			owner.Users = append(owner.Users, "oidc:"+strings.ToLower(u))
		}
		for _, g := range *oidcGroups {
			owner.Groups = append(owner.Groups, "oidc:"+strings.ToLower(g))
		}
		if len(owner.Users)+len(owner.Groups) == 0 {
			return errors.New("auth config for the team does not have users and groups configured")
		}
		auth = api.TeamAuth{"owner": owner}
	}
	fmt.Fprintf(e.stdout, "setting team: %s\n\n", *name)
	for _, role := range sortedRoles(auth) {
		m := auth[role]
		fmt.Fprintf(e.stdout, "role %s:\n  users:\n%s  groups:\n%s\n", role, listOrNone(m.Users), listOrNone(m.Groups))
	}
	if !*yes && !e.confirm("apply team configuration?") {
		return errors.New("bailing out")
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	var out struct {
		Warnings []api.ConfigWarning `json:"warnings"`
	}
	res, err := c.Do(ctx, http.MethodPut, "/api/v1/teams/"+*name, nil, api.Team{Auth: auth}, &out)
	if err != nil {
		return err
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(e.stderr, "%s %s\n", e.colour("33", "WARNING:"), w.Message)
	}
	if res.Status == http.StatusCreated {
		fmt.Fprintln(e.stdout, "team created")
	} else {
		fmt.Fprintln(e.stdout, "team updated")
	}
	return nil
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "  - none\n"
	}
	var b strings.Builder
	for _, x := range list {
		fmt.Fprintf(&b, "  - %s\n", x)
	}
	return b.String()
}

func sortedRoles(auth api.TeamAuth) []string {
	roles := make([]string, 0, len(auth))
	for r := range auth {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// roleRows are a team's roles as fly's teams -d and get-team print them.
func roleRows(t api.Team) [][]string {
	var rows [][]string
	for _, role := range sortedRoles(t.Auth) {
		m := t.Auth[role]
		users, groups := strings.Join(m.Users, ","), strings.Join(m.Groups, ",")
		switch {
		case users == "" && groups == "":
			users, groups = "all", "all"
		case users == "":
			users = "none"
		case groups == "":
			groups = "none"
		}
		rows = append(rows, []string{t.Name + "/" + role, users, groups})
	}
	return rows
}

func teams(ctx context.Context, e *env, args []string) error {
	f := newFlags("teams", e)
	details := f.boolean("d", "details", "show each role's users and groups")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	var list []api.Team
	if err := c.Get(ctx, "/api/v1/teams", &list); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(list)
	}
	var rows [][]string
	for _, t := range list {
		if *details {
			rows = append(rows, roleRows(t)...)
		} else {
			rows = append(rows, []string{t.Name})
		}
	}
	if *details {
		e.table([]string{"name/role", "users", "groups"}, rows)
	} else {
		e.table([]string{"name"}, rows)
	}
	return nil
}

func getTeam(ctx context.Context, e *env, args []string) error {
	f := newFlags("get-team", e)
	name := f.str("n", "team", "the team")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	var t api.Team
	res, err := c.Do(ctx, http.MethodGet, "/api/v1/teams/"+*name, nil, nil, &t)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return fmt.Errorf("team '%s' does not exist", *name)
	case res != nil && res.Status == http.StatusForbidden:
		return fmt.Errorf("you do not have a role on team '%s'", *name)
	case err != nil:
		return err
	}
	if *asJSON {
		return e.printJSON(t)
	}
	e.table([]string{"name/role", "users", "groups"}, roleRows(t))
	return nil
}

func renameTeam(ctx context.Context, e *env, args []string) error {
	f := newFlags("rename-team", e)
	old := f.str("o", "old-name", "the team's name")
	name := f.str("n", "new-name", "its new name")
	if err := f.parse(args, old, name); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodPut, "/api/v1/teams/"+*old+"/rename", nil, map[string]string{"name": *name}, nil)
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("Team '%s' not found", *old)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Team successfully renamed to %s\n", *name)
	return nil
}

func destroyTeam(ctx context.Context, e *env, args []string) error {
	f := newFlags("destroy-team", e)
	name := f.str("n", "team-name", "the team to destroy")
	yes := f.boolean("", "non-interactive", "destroy without asking")
	if err := f.parse(args, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "!!! this will remove all data for team `%s`\n\n", *name)
	if !*yes {
		fmt.Fprint(e.stdout, "please type the team name to continue: ")
		var typed string
		if _, err := fmt.Fscanln(e.stdin, &typed); err != nil || typed != *name {
			return errors.New("incorrect team name; bailing out")
		}
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	res, err := c.Do(ctx, http.MethodDelete, "/api/v1/teams/"+*name, nil, nil, nil)
	if res != nil && res.Status == http.StatusForbidden {
		return fmt.Errorf("could not destroy `%s`\n\neither your team is not an admin or it is the last admin team", *name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "`%s` deleted\n", *name)
	return nil
}
