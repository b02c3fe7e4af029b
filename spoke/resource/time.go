package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Time is a reduced time resource: a check gives a new version once interval
// (default 1m) has passed since the last one; get writes the version to
// input; put makes a version of now. start/stop/days are not supported yet.
type Time struct{}

type timeSource struct {
	Interval string `json:"interval"`
	Location string `json:"location"`
}

func (Time) interval(raw json.RawMessage) (time.Duration, error) {
	var s timeSource
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("invalid payload: %w", err)
		}
	}
	if s.Interval == "" {
		return time.Minute, nil
	}
	d, err := time.ParseDuration(s.Interval)
	if err != nil {
		return 0, fmt.Errorf("invalid interval %q: %w", s.Interval, err)
	}
	return d, nil
}

func (t Time) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	interval, err := t.interval(raw)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if from != nil {
		if last, err := time.Parse(time.RFC3339, from["time"]); err == nil && now.Sub(last) < interval {
			return []map[string]string{from}, nil
		}
	}
	return []map[string]string{{"time": now.Format(time.RFC3339)}}, nil
}

func (Time) In(ctx context.Context, raw, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	b, _ := json.Marshal(version)
	if err := os.WriteFile(filepath.Join(dest, "input"), b, 0o644); err != nil {
		return Response{}, err
	}
	return Response{Version: version}, nil
}

func (Time) Out(ctx context.Context, raw, params json.RawMessage, dir string, log io.Writer) (Response, error) {
	return Response{Version: map[string]string{"time": time.Now().UTC().Format(time.RFC3339)}}, nil
}
