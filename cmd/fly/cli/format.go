package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/pipeline"
)

// formatPipeline is fly format-pipeline -c FILE [-w]: the config as stock
// fly formats it (its schema's keys, sorted, with empty and false values
// left out and a task's params as strings), printed or written in place.
// ((vars)) stay as they are.
func formatPipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("format-pipeline", e)
	file := f.str("c", "config", "pipeline configuration file")
	write := f.boolean("w", "write", "write the formatted config back to the file")
	if err := f.parse(args, file); err != nil {
		return err
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	out, err := FormatPipeline(*file, data)
	if err != nil {
		return err
	}
	if *write {
		fi, err := os.Stat(*file)
		if err != nil {
			return err
		}
		return os.WriteFile(*file, out, fi.Mode().Perm())
	}
	_, err = e.stdout.Write(out)
	return err
}

// FormatPipeline formats a pipeline config as stock fly's format-pipeline.
func FormatPipeline(file string, data []byte) ([]byte, error) {
	loaded, err := pipeline.Load(data, pipeline.Options{File: file})
	if err != nil {
		return nil, invalidConfig(err)
	}
	var cfg any
	if err := json.Unmarshal(loaded.JSON, &cfg); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(tidy("", cfg, false)); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// tidy leaves out what Concourse's schema omits when empty (false, "", empty
// lists and maps) and turns the values of a task's params into strings, as
// Concourse's task env is. A map maps keys sorted, as yaml does.
func tidy(key string, v any, taskParams bool) any {
	switch x := v.(type) {
	case map[string]any:
		_, isTask := x["task"]
		_, isConfig := x["run"]
		out := map[string]any{}
		for k, val := range x {
			t := tidy(k, val, k == "params" && (isTask || isConfig))
			if !empty(t) {
				out[k] = t
			}
		}
		if taskParams {
			for k, val := range out {
				out[k] = envString(val)
			}
		}
		if _, ok := out["name"]; key == "image_resource" && !ok {
			out["name"] = "" // Concourse's image_resource always has one
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, val := range x {
			out = append(out, tidy("", val, false))
		}
		if key == "in_parallel" { // Concourse writes the list form as its steps
			return map[string]any{"steps": out}
		}
		return out
	}
	return v
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// envString is a task param's value as the task's env sees it.
func envString(v any) any {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}
