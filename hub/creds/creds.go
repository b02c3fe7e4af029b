package creds

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Scope is who asks for a value: a build's team, pipeline and job. Lookup
// paths use the pipeline's name only, so instances share secrets.
type Scope struct {
	Team, Pipeline, Job string
	InstanceVars        string // canonical JSON, or "" for a plain pipeline
	BuildID             int64
}

// Source answers a secret's name for a scope: its value, or found false.
type Source interface {
	Get(ctx context.Context, s Scope, name string) (value any, found bool, err error)
}

// UntrustedError refuses a managed value to a build of an untrusted
// pipeline or job.
type UntrustedError struct {
	Var   string
	Scope Scope
}

func (e *UntrustedError) Error() string {
	where := "pipeline " + e.Scope.Pipeline
	if e.Scope.Job != "" {
		where = fmt.Sprintf("job %s/%s", e.Scope.Pipeline, e.Scope.Job)
	}
	return fmt.Sprintf("((%s)) comes from a credential manager or var source, and %s is untrusted, so its builds get no secrets: "+
		"move the step to a trusted job, or trust this one (fly trust-job / trust-pipeline) if you trust its code", e.Var, where)
}

// noSlash refuses names that would reach another path (and so, with some
// managers, another team's secrets).
func noSlash(manager, name string) error {
	if strings.Contains(name, "/") {
		return fmt.Errorf("var %q: %s secret names cannot hold '/'; name the secret without it", name, manager)
	}
	return nil
}

// ErrNotConfigured is what a Source without a manager says.
var ErrNotConfigured = errors.New("no credential manager is configured")
