package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Mock is Concourse's mock resource (concourse/mock-resource), natively.
type Mock struct{}

type mockSource struct {
	MirrorSelf       bool           `json:"mirror_self"`
	InitialVersion   string         `json:"initial_version"`
	NoInitialVersion bool           `json:"no_initial_version"`
	ForceVersion     string         `json:"force_version"`
	CreateFiles      map[string]any `json:"create_files"`
	CheckDelay       string         `json:"check_delay"`
	CheckFailure     string         `json:"check_failure"`
	Metadata         []Metadata     `json:"metadata"`
	Log              string         `json:"log"`
}

type mockInParams struct {
	MirrorSelfViaParams  bool           `json:"mirror_self_via_params"`
	CreateFilesViaParams map[string]any `json:"create_files_via_params"`
}

type mockOutParams struct {
	Version  string `json:"version"`
	File     string `json:"file"`
	PrintEnv bool   `json:"print_env"`
}

func (Mock) source(raw json.RawMessage, log io.Writer) (mockSource, error) {
	var s mockSource
	if err := decodeStrict(raw, &s); err != nil {
		return s, err
	}
	if s.Log != "" {
		fmt.Fprintln(log, s.Log)
	}
	return s, nil
}

// Check: check_delay, then check_failure, then force_version, else the given
// version exactly, else the initial version unless no_initial_version.
func (m Mock) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	s, err := m.source(raw, log)
	if err != nil {
		return nil, err
	}
	if s.CheckDelay != "" {
		d, err := time.ParseDuration(s.CheckDelay)
		if err != nil {
			return nil, fmt.Errorf("invalid check_delay %q: %w", s.CheckDelay, err)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch {
	case s.CheckFailure != "":
		return nil, fmt.Errorf("intentionally failing to check: %s", s.CheckFailure)
	case s.ForceVersion != "":
		return []map[string]string{{"version": s.ForceVersion}}, nil
	case from != nil:
		return []map[string]string{from}, nil
	case s.NoInitialVersion:
		return []map[string]string{}, nil
	}
	v := s.InitialVersion
	if v == "" {
		v = os.Getenv("MIRRORED_VERSION")
	}
	if v == "" {
		v = "mock"
	}
	return []map[string]string{{"version": v}}, nil
}

// In writes create_files (with START_VAR/END_VAR turned into (( and )) ),
// version and privileged; mirror_self gives an image directory (rootfs/ and
// metadata.json) whose rootfs is empty on the local runtime, which ignores images.
func (m Mock) In(ctx context.Context, raw, rawParams json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	s, err := m.source(raw, log)
	if err != nil {
		return Response{}, err
	}
	var p mockInParams
	if err := decodeStrict(rawParams, &p); err != nil {
		return Response{}, err
	}
	files := map[string]any{}
	for k, v := range s.CreateFiles {
		files[k] = v
	}
	for k, v := range p.CreateFilesViaParams {
		files[k] = v
	}
	for name, content := range files {
		path, err := within(dest, name)
		if err != nil {
			return Response{}, err
		}
		text, ok := content.(string)
		if !ok {
			b, _ := json.Marshal(content)
			text = string(b)
		}
		text = strings.NewReplacer("START_VAR", "((", "END_VAR", "))").Replace(text)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return Response{}, err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return Response{}, err
		}
	}
	if s.MirrorSelf || p.MirrorSelfViaParams {
		if err := os.MkdirAll(filepath.Join(dest, "rootfs"), 0o755); err != nil {
			return Response{}, err
		}
		md, _ := json.Marshal(map[string]any{"env": []string{"MIRRORED_VERSION=" + version["version"]}, "user": "root"})
		if err := os.WriteFile(filepath.Join(dest, "metadata.json"), md, 0o644); err != nil {
			return Response{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(dest, "version"), []byte(version["version"]+"\n"), 0o644); err != nil {
		return Response{}, err
	}
	if err := os.WriteFile(filepath.Join(dest, "privileged"), []byte("false\n"), 0o644); err != nil {
		return Response{}, err
	}
	return Response{Version: version, Metadata: s.Metadata}, nil
}

// maxVersionFile bounds the file a put reads its version from.
const maxVersionFile = 64 << 10

// Out makes a version from params.version, or from the whole content of
// params.file (relative to the put's directory).
func (m Mock) Out(ctx context.Context, raw, rawParams json.RawMessage, dir string, log io.Writer) (Response, error) {
	s, err := m.source(raw, log)
	if err != nil {
		return Response{}, err
	}
	var p mockOutParams
	if err := decodeStrict(rawParams, &p); err != nil {
		return Response{}, err
	}
	if p.PrintEnv {
		// Upstream prints its container's environment; here the type runs
		// in the spoke's own process, whose environment (its join token
		// among it) is not the build's to see.
		fmt.Fprintln(log, "env: not shown: the spoke runs mock in its own process, without an environment of the step's")
	}
	version := p.Version
	if version == "" && p.File != "" {
		f, err := openInPutDir(dir, p.File)
		if err != nil {
			return Response{}, fmt.Errorf("params.file %q: %v", p.File, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxVersionFile+1))
		if err != nil {
			return Response{}, err
		}
		if len(b) > maxVersionFile {
			return Response{}, fmt.Errorf("params.file %q: over %d bytes: a version is short", p.File, maxVersionFile)
		}
		version = string(b)
	}
	if version == "" {
		return Response{}, errors.New("no version specified")
	}
	return Response{Version: map[string]string{"version": version}, Metadata: s.Metadata}, nil
}

// within joins a relative path under root, refusing paths that leave it.
func within(root, rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("path %q must be relative", rel)
	}
	path := filepath.Join(root, rel)
	if r, err := filepath.Rel(root, path); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("path %q leaves its directory", rel)
	}
	return path, nil
}
