package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// envName is a flag's environment variable: --database-url reads
// SWITCHYARD_DATABASE_URL.
func envName(flag string) string {
	return "SWITCHYARD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// env is a flag's environment fallback, def when it is not set.
func env(name, def string) string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		return v
	}
	return def
}

// flags defines the flags of a command, each with its environment fallback
// (said in its usage); a fallback that does not parse is an error of Parse.
type flags struct {
	fs   *flag.FlagSet
	errs []error
}

func newFlags(name string, stderr interface{ Write([]byte) (int, error) }) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{fs: fs}
}

func (f *flags) usage(name, usage string) string { return usage + " (env " + envName(name) + ")" }

func (f *flags) str(p *string, name, def, usage string) {
	f.fs.StringVar(p, name, env(name, def), f.usage(name, usage))
}

// fallback parses a flag's environment value with parse, keeping def when
// it is unset and recording why when it does not parse.
func fallback[T any](f *flags, name string, def T, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s=%q: %w", envName(name), v, err))
		return def
	}
	return x
}

func (f *flags) boolean(p *bool, name string, def bool, usage string) {
	f.fs.BoolVar(p, name, fallback(f, name, def, strconv.ParseBool), f.usage(name, usage))
}

func (f *flags) integer(p *int, name string, def int, usage string) {
	f.fs.IntVar(p, name, fallback(f, name, def, strconv.Atoi), f.usage(name, usage))
}

func (f *flags) float(p *float64, name string, def float64, usage string) {
	f.fs.Float64Var(p, name, fallback(f, name, def, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }), f.usage(name, usage))
}

func (f *flags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, fallback(f, name, def, time.ParseDuration), f.usage(name, usage))
}

// list is a repeatable flag whose environment fallback is comma-separated.
func (f *flags) list(name, usage string) *listFlag {
	l := &listFlag{}
	if v := env(name, ""); v != "" {
		*l = strings.Split(v, ",")
	}
	f.fs.Var(l, name, usage+" (repeatable; env "+envName(name)+", comma-separated)")
	return l
}

// parse parses args after the environment fallbacks.
func (f *flags) parse(args []string) error {
	if len(f.errs) > 0 {
		return errors.Join(f.errs...)
	}
	return f.fs.Parse(args)
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// size parses the value of a size flag (8Gi, 500M); empty is 0 when
// optional.
func size(name, value string, optional bool) (int64, error) {
	if value == "" && optional {
		return 0, nil
	}
	q, err := resource.ParseQuantity(value)
	if err != nil || q.Value() <= 0 {
		return 0, fmt.Errorf("--%s %q: write a size such as 8Gi or 500M", name, value)
	}
	return q.Value(), nil
}
