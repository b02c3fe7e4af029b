// Package validatecmd is `validate-pipeline`, one implementation behind both
// `switchyard validate-pipeline` and `fly validate-pipeline`, with fly 8.2's flags
// and output.
package validatecmd

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/pipeline"
)

// Run validates the config named by -c and returns the exit code: 0 when it is
// valid, 1 when it is not (or, with --strict, when it has warnings), 2 for bad
// flags.
func Run(prog string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" validate-pipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file          string
		strict, print bool
	)
	vars := pipeline.Vars{}
	var varFiles []string
	var varFlags []varFlag
	for _, name := range []string{"c", "config"} {
		fs.StringVar(&file, name, "", "pipeline configuration file (required)")
	}
	for _, name := range []string{"s", "strict"} {
		fs.BoolVar(&strict, name, false, "fail on warnings too")
	}
	for _, name := range []string{"o", "output"} {
		fs.BoolVar(&print, name, false, "print the config after interpolating vars")
	}
	for _, name := range []string{"v", "var"} {
		fs.Func(name, "NAME=VALUE: a string var (repeatable)", func(s string) error {
			varFlags = append(varFlags, varFlag{yaml: false, kv: s})
			return nil
		})
	}
	for _, name := range []string{"y", "yaml-var"} {
		fs.Func(name, "NAME=YAML: a YAML var (repeatable)", func(s string) error {
			varFlags = append(varFlags, varFlag{yaml: true, kv: s})
			return nil
		})
	}
	for _, name := range []string{"l", "load-vars-from"} {
		fs.Func(name, "FILE: vars from a YAML file (repeatable)", func(s string) error {
			varFiles = append(varFiles, s)
			return nil
		})
	}
	fs.Bool("enable-across-step", false, "accepted for compatibility; across is always enabled")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if file == "" {
		fmt.Fprintln(stderr, "error: the required flag `-c, --config' was not specified")
		return 2
	}
	// As in fly, -l files come first and -v/-y override them.
	for _, f := range varFiles {
		if err := vars.LoadFile(f); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
	}
	for _, v := range varFlags {
		set := vars.SetString
		if v.yaml {
			set = vars.SetYAML
		}
		if err := set(v.kv); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 2
		}
	}

	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	p, err := pipeline.Load(data, pipeline.Options{File: file, Vars: vars})
	return report(p, err, strict, print, stdout, stderr)
}

type varFlag struct {
	yaml bool
	kv   string
}

func report(p *pipeline.Pipeline, err error, strict, print bool, stdout, stderr io.Writer) int {
	if len(p.Warnings) > 0 {
		fmt.Fprintln(stderr, "WARNING:")
		for _, w := range p.Warnings {
			fmt.Fprintf(stderr, "  - %s\n", w.Error.Error())
		}
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "ERROR:")
		var list pipeline.Errors
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintf(stderr, "  - %s\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "  - %s\n", err)
		}
		fmt.Fprintln(stderr)
	}
	if err != nil || (strict && len(p.Warnings) > 0) {
		fmt.Fprintln(stderr, "configuration invalid")
		return 1
	}
	if print {
		var x any
		if err := json.Unmarshal(p.JSON, &x); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		out, err := yaml.Marshal(x)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(out)
		return 0
	}
	fmt.Fprintln(stdout, "looks good")
	return 0
}
