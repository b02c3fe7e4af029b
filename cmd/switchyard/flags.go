package main

import (
	"flag"
	"os"
	"strings"
)

// env is a flag's environment fallback: --database-url reads SWITCHYARD_DATABASE_URL.
func env(name, def string) string {
	if v, ok := os.LookupEnv("SWITCHYARD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

// listFlag is a repeatable flag whose environment fallback is comma-separated.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func listVar(fs *flag.FlagSet, name, usage string) *listFlag {
	l := &listFlag{}
	if v := env(name, ""); v != "" {
		*l = strings.Split(v, ",")
	}
	fs.Var(l, name, usage+" (repeatable; env SWITCHYARD_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+", comma-separated)")
	return l
}
