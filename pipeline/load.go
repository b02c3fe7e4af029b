package pipeline

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Options tell Load where the config came from and how to read it.
type Options struct {
	File   string // named in errors; "" for a config that came from the API
	Vars   Vars   // static ((vars)); unresolved ones stay as they are
	Limits Limits // zero means DefaultLimits
}

// Pipeline is a loaded config.
type Pipeline struct {
	Config   *Config
	JSON     []byte // the config after interpolation, as JSON: what the hub stores and serves
	Warnings []Warning
	Vars     []VarRef // every ((var)) still in the config
}

// Load parses, interpolates, decodes and validates a pipeline config. On error it
// returns Errors (every problem found, each with file, line and field) or a single
// *Error; the returned Pipeline still carries the warnings found so far.
func Load(data []byte, opts Options) (*Pipeline, error) {
	p := &Pipeline{}
	root, err := parseYAML(opts.File, data, opts.Limits)
	if err != nil {
		return p, err
	}
	lim := opts.Limits.orDefault()
	d := &decoder{report: report{file: opts.File}, varLimit: lim.MaxExpandedBytes}
	d.interpolate(root, opts.Vars)
	if d.varLimit > 0 && d.varUsed > d.varLimit {
		return p, d.errs // the vars would expand the config past its bound
	}
	if len(opts.Vars) > 0 {
		// Vars inside anchored values count once per alias, as the text does.
		if err := checkExpansion(opts.File, root, lim); err != nil {
			return p, err
		}
	}
	p.Vars = d.interpolate(root, nil) // what is left after interpolation
	if root.Kind != yaml.MappingNode {
		return p, &Error{File: opts.File, Line: root.Line, Msg: fmt.Sprintf("a pipeline config is a mapping with jobs, resources and so on; got %s", describe(root))}
	}

	var known []pair
	for _, kv := range d.pairs(root, "") {
		if topLevelKeys[kv.key] {
			known = append(known, kv)
		}
	}
	cfg := &Config{}
	d.decodePairs(root.Line, known, reflect.ValueOf(cfg).Elem(), "")
	p.Config = cfg

	plain := map[string]any{}
	for _, kv := range known {
		plain[kv.key] = d.toAny(kv.val, kv.key)
	}
	if p.JSON, err = json.Marshal(plain); err != nil {
		d.errorf(0, "", "cannot express the config as JSON: %v", err)
	}
	// Validate even a config that did not decode cleanly, so that one run shows
	// every problem; parts that failed to decode are left empty and skipped.
	validate(&d.report, cfg, p.Vars)
	sort.SliceStable(d.warnings, func(i, j int) bool { return d.warnings[i].Line < d.warnings[j].Line })
	p.Warnings = d.warnings
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return p, d.errs
	}
	return p, nil
}
