package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// RC is ~/.flyrc (or $FLY_HOME/.flyrc).
type RC struct {
	Targets map[string]*Target `yaml:"targets"`
}

type Target struct {
	API      string     `yaml:"api"`
	CACert   string     `yaml:"ca_cert,omitempty"`
	Insecure bool       `yaml:"insecure,omitempty"`
	Team     string     `yaml:"team"`
	Token    *TargetTok `yaml:"token,omitempty"`
}

type TargetTok struct {
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
}

func rcPath() (string, error) {
	home := os.Getenv("FLY_HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(home, ".flyrc"), nil
}

func loadRC() (*RC, error) {
	path, err := rcPath()
	if err != nil {
		return nil, err
	}
	rc := &RC{Targets: map[string]*Target{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return rc, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, rc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rc.Targets == nil {
		rc.Targets = map[string]*Target{}
	}
	for _, t := range rc.Targets {
		if t.Team == "" {
			t.Team = "main"
		}
	}
	return rc, nil
}

func (rc *RC) save() error {
	path, err := rcPath()
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(rc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
