package pipeline

import (
	"reflect"
	"sort"
	"strings"
)

// LoadTaskConfig reads a task config file (a task step's `file:`) within the
// same limits and with the same strict decoding and checks as pipelines.
func LoadTaskConfig(file string, data []byte) (*TaskConfig, error) {
	root, err := parseYAML(file, data, Limits{})
	if err != nil {
		return nil, err
	}
	d := &decoder{report: report{file: file}}
	// The spoke reads a task file, and only the hub resolves ((vars)): one
	// left in the file would reach the task as text, a wrong build.
	for _, ref := range d.interpolate(root, nil) {
		d.errorf(ref.Line, "", "((%s)) in a task file: Switchyard does not resolve vars in task files yet; give the value as the task step's params", strings.Join(ref.Path, "."))
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	var cfg TaskConfig
	d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	if len(d.errs) == 0 {
		(&validator{report: &d.report}).taskConfig(&cfg, "task config")
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	return &cfg, nil
}

// DecodeFile decodes a YAML file strictly into out (a pointer to a struct
// with yaml tags) within the pipeline's limits: unknown fields, wrong types
// and oversized or alias-bombed input are errors naming file and line.
func DecodeFile(file string, data []byte, out any) error {
	root, err := parseYAML(file, data, Limits{})
	if err != nil {
		return err
	}
	d := &decoder{report: report{file: file}}
	d.decode(root, reflect.ValueOf(out).Elem(), "")
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return d.errs
	}
	return nil
}
