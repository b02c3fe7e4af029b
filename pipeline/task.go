package pipeline

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TaskConfig is a task's configuration, inline under `config:` or in a task file.
type TaskConfig struct {
	Line            int              `json:"-"`
	Lines           map[string]int   `json:"-"`
	Platform        string           `yaml:"platform" json:"platform,omitempty"`
	ImageResource   *ImageResource   `yaml:"image_resource" json:"image_resource,omitempty"`
	RootfsURI       string           `yaml:"rootfs_uri" json:"rootfs_uri,omitempty"`
	ContainerLimits *ContainerLimits `yaml:"container_limits" json:"container_limits,omitempty"`
	Params          Env              `yaml:"params" json:"params,omitempty"`
	Run             *RunConfig       `yaml:"run" json:"run,omitempty"`
	Inputs          []TaskInput      `yaml:"inputs" json:"inputs,omitempty"`
	Outputs         []TaskOutput     `yaml:"outputs" json:"outputs,omitempty"`
	Caches          []TaskCache      `yaml:"caches" json:"caches,omitempty"`
}

type ImageResource struct {
	Type    string            `yaml:"type" json:"type,omitempty"`
	Source  map[string]any    `yaml:"source" json:"source,omitempty"`
	Version map[string]string `yaml:"version" json:"version,omitempty"`
	Params  map[string]any    `yaml:"params" json:"params,omitempty"`
	Tags    []string          `yaml:"tags" json:"tags,omitempty"`
}

type RunConfig struct {
	Path string   `yaml:"path" json:"path,omitempty"`
	Args []string `yaml:"args" json:"args,omitempty"`
	Dir  string   `yaml:"dir" json:"dir,omitempty"`
	User string   `yaml:"user" json:"user,omitempty"`
}

type TaskInput struct {
	Line     int    `json:"-"`
	Name     string `yaml:"name" json:"name,omitempty"`
	Path     string `yaml:"path" json:"path,omitempty"`
	Optional bool   `yaml:"optional" json:"optional,omitempty"`
}

type TaskOutput struct {
	Line int    `json:"-"`
	Name string `yaml:"name" json:"name,omitempty"`
	Path string `yaml:"path" json:"path,omitempty"`
}

type TaskCache struct {
	Path string `yaml:"path" json:"path,omitempty"`
}

// ContainerLimits bound a task's container. Memory takes bytes or a size with a
// unit (KB, MB, GB, as Concourse reads them).
type ContainerLimits struct {
	CPU    *uint64     `yaml:"cpu" json:"cpu,omitempty"`
	Memory MemoryLimit `yaml:"memory" json:"memory,omitempty"`
}

// MemoryLimit is a number of bytes; zero means no limit.
type MemoryLimit uint64

func (m *MemoryLimit) decodeNode(d *decoder, n *yaml.Node, where string) {
	if isNull(n) {
		return
	}
	s, ok := d.scalar(n, where, "a size such as 512MB or a number of bytes", "!!int", "!!str")
	if !ok {
		return
	}
	v, err := parseMemory(s)
	if err != nil {
		d.errorf(n.Line, where, "%v", err)
		return
	}
	*m = MemoryLimit(v)
}

var memoryUnits = []struct {
	suffix string
	factor uint64
}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}

func parseMemory(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	factor := uint64(1)
	for _, u := range memoryUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory limit %q is not a size such as 512MB or a number of bytes", s)
	}
	return v * factor, nil
}

// Env is a task's params: environment variables. As in Concourse, values that are
// not strings are kept as their JSON text, and null is the empty string.
type Env map[string]string

func (e *Env) decodeNode(d *decoder, n *yaml.Node, where string) {
	if isNull(n) {
		return
	}
	if !d.expect(n, yaml.MappingNode, where, "a mapping of names to values") {
		return
	}
	*e = Env{}
	for _, p := range d.pairs(n, where) {
		v := resolve(p.val)
		switch {
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
			(*e)[p.key] = v.Value
		case isNull(v):
			(*e)[p.key] = ""
		default:
			b, err := json.Marshal(d.toAny(v, where+"."+p.key))
			if err != nil {
				d.errorf(v.Line, where+"."+p.key, "cannot turn the value into text: %v", err)
				continue
			}
			(*e)[p.key] = string(b)
		}
	}
}

// VersionConfig is a get step's `version`: latest (the default), every, or a
// fixed version.
type VersionConfig struct {
	Every  bool
	Latest bool
	Pinned map[string]string
}

func (v *VersionConfig) decodeNode(d *decoder, n *yaml.Node, where string) {
	switch {
	case isNull(n):
	case n.Kind == yaml.ScalarNode && n.Value == "every":
		v.Every = true
	case n.Kind == yaml.ScalarNode && n.Value == "latest":
		v.Latest = true
	case n.Kind == yaml.MappingNode:
		d.decode(n, reflect.ValueOf(&v.Pinned).Elem(), where)
	default:
		d.errorf(n.Line, where, "expected latest, every or a version (a mapping), got %s", describe(n))
	}
}

// InputsConfig is a put step's `inputs`: all (the default), detect, or a list of
// artifact names.
type InputsConfig struct {
	All    bool
	Detect bool
	Names  []string
}

func (c *InputsConfig) decodeNode(d *decoder, n *yaml.Node, where string) {
	switch {
	case isNull(n):
	case n.Kind == yaml.ScalarNode && n.Value == "all":
		c.All = true
	case n.Kind == yaml.ScalarNode && n.Value == "detect":
		c.Detect = true
	case n.Kind == yaml.SequenceNode:
		d.decode(n, reflect.ValueOf(&c.Names).Elem(), where)
	default:
		d.errorf(n.Line, where, "expected all, detect or a list of artifact names, got %s", describe(n))
	}
}
