package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// resource is the probe as a resource type, by Concourse's protocol:
//
//	check  the versions source.versions lists (default v1, v2), as {"ref": v}
//	in     writes the version's ref to DEST/ref; with source.image, DEST is
//	       also an image (rootfs/ and metadata.json) whose /opt/resource is
//	       this type again: a type whose versions are types
//	out    the version whose ref is in the file params.file names
//
// Each says what it does on stderr.
func resource(script string) int {
	var req struct {
		Source struct {
			Versions []string `json:"versions"`
			Image    bool     `json:"image"`
		} `json:"source"`
		Version map[string]string `json:"version"`
		Params  struct {
			File string `json:"file"`
		} `json:"params"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return failed("read the request: %v", err)
	}
	ref := req.Version["ref"]
	switch script {
	case "check":
		fmt.Fprintln(os.Stderr, "checking")
		versions := req.Source.Versions
		if len(versions) == 0 {
			versions = []string{"v1", "v2"}
		}
		out := []map[string]string{}
		for _, v := range versions {
			out = append(out, map[string]string{"ref": v})
		}
		return respond(out)
	case "in":
		dest := os.Args[1]
		fmt.Fprintf(os.Stderr, "fetching %s into %s as %s\n", ref, dest, os.Getenv("BUILD_JOB_NAME"))
		if err := os.WriteFile(filepath.Join(dest, "ref"), []byte(ref+"\n"), 0o644); err != nil {
			return failed("%v", err)
		}
		if req.Source.Image {
			if err := image(dest); err != nil {
				return failed("write the image: %v", err)
			}
		}
	case "out":
		data, err := os.ReadFile(filepath.Join(os.Args[1], req.Params.File))
		if err != nil {
			return failed("%v", err)
		}
		ref = strings.TrimSpace(string(data))
		fmt.Fprintf(os.Stderr, "putting %s\n", req.Params.File)
	default:
		return failed("no script %s", script)
	}
	return respond(map[string]any{"version": map[string]string{"ref": ref}, "metadata": []map[string]string{{"name": "ref", "value": ref}}})
}

// image writes an image of this type into dest.
func image(dest string) error {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	defer self.Close()
	rootfs := filepath.Join(dest, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "opt/resource"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	bin := filepath.Join(rootfs, "bin", "probe")
	f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, self); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, s := range []string{"check", "in", "out"} {
		if err := os.Link(bin, filepath.Join(rootfs, "opt", "resource", s)); err != nil {
			return err
		}
	}
	for name, data := range map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/probe\n", "etc/group": "root:x:0:\n"} {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dest, "metadata.json"), []byte(`{"env":["PATH=/bin"],"user":""}`), 0o644)
}

func respond(v any) int {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		return failed("%v", err)
	}
	return 0
}

func failed(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "probe resource: "+format+"\n", args...)
	return 1
}
