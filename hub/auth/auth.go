package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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

// Claims are what a token says about its bearer.
type Claims struct {
	User      string `json:"user"`
	Connector string `json:"connector"`
	Expiry    int64  `json:"exp"`
}

// Signer issues and verifies bearer tokens: base64url(claims JSON) "."
// base64url(HMAC-SHA256 of the first part), with a key all hub replicas share.
type Signer struct {
	Key []byte
}

var errBadToken = errors.New("invalid token")

// Issue returns a token for user valid for ttl.
func (s Signer) Issue(user string, now time.Time, ttl time.Duration) string {
	body, _ := json.Marshal(Claims{User: user, Connector: "local", Expiry: now.Add(ttl).Unix()})
	part := base64.RawURLEncoding.EncodeToString(body)
	return part + "." + base64.RawURLEncoding.EncodeToString(s.mac(part))
}

func (s Signer) mac(part string) []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(part))
	return m.Sum(nil)
}

// Verify checks a token's signature and expiry.
func (s Signer) Verify(token string, now time.Time) (Claims, error) {
	part, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(part)) {
		return Claims{}, errBadToken
	}
	body, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return Claims{}, errBadToken
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil || c.User == "" {
		return Claims{}, errBadToken
	}
	if now.Unix() >= c.Expiry {
		return Claims{}, errors.New("token expired")
	}
	return c, nil
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
// them: entries are connector:user, case-insensitive, and a role with no users
// and no groups is everyone's.
func Roles(auth api.TeamAuth, connector, user string) []string {
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
