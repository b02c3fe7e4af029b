package auth

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
)

// Users are the local users, name -> password, from --add-local-user NAME:PASSWORD.
type Users map[string]string

// ParseUser reads NAME:PASSWORD.
func (u Users) Add(spec string) error {
	name, password, ok := strings.Cut(spec, ":")
	if !ok || name == "" || password == "" {
		return fmt.Errorf("local user %q: expected NAME:PASSWORD", spec)
	}
	u[name] = password
	return nil
}

// Check tells whether name and password match a local user, in constant time.
func (u Users) Check(name, password string) bool {
	want, ok := u[name]
	if !ok {
		want = "\x00no such user"
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1 && ok
}

// Role is a team role; a higher role includes the lower ones.
type Role int

const (
	NoRole Role = iota
	Viewer
	PipelineOperator
	Member
	Owner
)

var roleNames = map[string]Role{"viewer": Viewer, "pipeline-operator": PipelineOperator, "member": Member, "owner": Owner}

func (r Role) String() string {
	for name, role := range roleNames {
		if role == r {
			return name
		}
	}
	return "none"
}

// Roles lists the roles a user holds in a team's auth, as Concourse matches
// them: entries are connector:user or connector:group, case-insensitive, and
// a role with no users and no groups is everyone's.
func Roles(auth api.TeamAuth, connector, user string, groups ...string) []string {
	var out []string
	for _, name := range []string{"owner", "member", "pipeline-operator", "viewer"} {
		m, ok := auth[name]
		if !ok {
			continue
		}
		match := len(m.Users) == 0 && len(m.Groups) == 0
		for _, u := range m.Users {
			match = match || strings.EqualFold(u, connector+":"+user)
		}
		for _, g := range m.Groups {
			for _, mine := range groups {
				match = match || strings.EqualFold(g, connector+":"+mine)
			}
		}
		if match {
			out = append(out, name)
		}
	}
	return out
}

// Highest is the strongest of a list of role names.
func Highest(roles []string) Role {
	best := NoRole
	for _, r := range roles {
		if roleNames[r] > best {
			best = roleNames[r]
		}
	}
	return best
}
