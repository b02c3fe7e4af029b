package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Metadata is one name/value pair a get or put reports.
type Metadata struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Response is what in and out return.
type Response struct {
	Version  map[string]string `json:"version"`
	Metadata []Metadata        `json:"metadata,omitempty"`
}

// Type is a natively implemented resource type.
type Type interface {
	Check(ctx context.Context, source json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error)
	In(ctx context.Context, source, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error)
	Out(ctx context.Context, source, params json.RawMessage, dir string, log io.Writer) (Response, error)
}

// Native returns the native implementation of a type, or an error that names
// the types there are. cacheDir keeps what a type may reuse
// between steps (git's clones).
func Native(typ, cacheDir string) (Type, error) {
	switch typ {
	case "mock":
		return Mock{}, nil
	case "time":
		return Time{}, nil
	case "git":
		return Git{CacheDir: cacheDir}, nil
	case "s3":
		return S3{}, nil
	case "registry-image":
		return RegistryImage{}, nil
	case "semver":
		return Semver{}, nil
	}
	return nil, fmt.Errorf("resource type %q is not built in: the built-in types are mock, time, git, s3, registry-image and semver; declare %s under resource_types with the image that implements it", typ, typ)
}

// decodeStrict decodes a payload refusing unknown keys, as the mock resource
// does ("invalid payload: json: unknown field ...").
func decodeStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid payload: %w", err)
	}
	return nil
}
