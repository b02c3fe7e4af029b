package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Time is Concourse's time resource: a check gives a new version (the time
// of the check) when the time is inside the window start–stop (all day
// without one), on one of days (any day without them), and either interval
// has passed since the last version or, without an interval, the last
// version is from before the current window. initial_version gives a first
// version at once, in or out of the window. Times are read in location
// (UTC without one). get writes the version to input and its time to
// timestamp; put makes a version of now.
type Time struct {
	Now func() time.Time // the clock; nil: time.Now
}

type timeSource struct {
	Interval       string   `json:"interval"`
	Start          string   `json:"start"`
	Stop           string   `json:"stop"`
	Days           []string `json:"days"`
	Location       string   `json:"location"`
	InitialVersion bool     `json:"initial_version"`
}

// timeRule is a time source, parsed.
type timeRule struct {
	interval    time.Duration // 0: once per window
	start, stop *clockTime    // both or neither
	days        map[time.Weekday]bool
	loc         *time.Location
	initial     bool
}

// clockTime is a time of day, with the zone it was given in (nil: the
// source's location).
type clockTime struct {
	minute int // since midnight
	zone   *time.Location
}

// on is the clock time on the day of ref, in ref's location unless the clock
// time has its own zone.
func (c clockTime) on(ref time.Time) time.Time {
	loc := ref.Location()
	if c.zone != nil {
		ref = ref.In(c.zone)
		loc = c.zone
	}
	y, m, d := ref.Date()
	return time.Date(y, m, d, c.minute/60, c.minute%60, 0, 0, loc)
}

// Upstream's formats for start and stop.
var clockFormats = []string{"3:04 PM -0700", "3PM -0700", "3 PM -0700", "15:04 -0700", "1504 -0700", "3:04 PM", "3PM", "3 PM", "15:04", "1504"}

func parseClock(field, v string) (*clockTime, error) {
	for _, f := range clockFormats {
		t, err := time.Parse(f, strings.ToUpper(v))
		if err != nil {
			continue
		}
		c := &clockTime{minute: t.Hour()*60 + t.Minute()}
		if strings.Contains(f, "-0700") {
			c.zone = t.Location()
		}
		return c, nil
	}
	return nil, fmt.Errorf("invalid %s %q: write a time of day such as 3:04 PM, 15:04 or 1504, optionally with a zone offset (-0700)", field, v)
}

var weekdays = map[string]time.Weekday{}

func init() {
	for d := time.Sunday; d <= time.Saturday; d++ {
		weekdays[strings.ToLower(d.String())] = d
	}
}

func parseTimeSource(raw json.RawMessage) (timeRule, error) {
	var s timeSource
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil { // unknown keys pass, as upstream
			return timeRule{}, fmt.Errorf("invalid payload: %w", err)
		}
	}
	r := timeRule{loc: time.UTC, initial: s.InitialVersion}
	var err error
	if s.Location != "" {
		if r.loc, err = time.LoadLocation(s.Location); err != nil {
			return timeRule{}, fmt.Errorf("invalid location %q: use an IANA time zone such as America/New_York", s.Location)
		}
	}
	if s.Interval != "" {
		if r.interval, err = time.ParseDuration(s.Interval); err != nil || r.interval <= 0 {
			return timeRule{}, fmt.Errorf("invalid interval %q: write a positive duration such as 10m or 1h", s.Interval)
		}
	}
	if (s.Start == "") != (s.Stop == "") {
		return timeRule{}, fmt.Errorf("start and stop go together: give both or neither")
	}
	if s.Start != "" {
		if r.start, err = parseClock("start", s.Start); err != nil {
			return timeRule{}, err
		}
		if r.stop, err = parseClock("stop", s.Stop); err != nil {
			return timeRule{}, err
		}
	}
	for _, d := range s.Days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return timeRule{}, fmt.Errorf("invalid day %q: use Sunday, Monday, Tuesday, Wednesday, Thursday, Friday or Saturday", d)
		}
		if r.days == nil {
			r.days = map[time.Weekday]bool{}
		}
		r.days[wd] = true
	}
	return r, nil
}

// window is the latest window that starts at or before now: its start and
// stop. Without start and stop, the window is now's day.
func (r timeRule) window(now time.Time) (time.Time, time.Time) {
	if r.start == nil {
		y, m, d := now.Date()
		start := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
		return start, start.AddDate(0, 0, 1)
	}
	start := r.start.on(now)
	for start.After(now) {
		start = r.start.on(start.AddDate(0, 0, -1))
	}
	stop := r.stop.on(start)
	for !stop.After(start) {
		stop = r.stop.on(stop.AddDate(0, 0, 1))
	}
	return start, stop
}

// due says whether a check at now gives a new version after the one of prev
// (zero: none).
func (r timeRule) due(now, prev time.Time) bool {
	now = now.In(r.loc)
	start, stop := r.window(now)
	if now.Before(start) || !now.Before(stop) {
		return false
	}
	if r.days != nil && !r.days[now.Weekday()] {
		return false
	}
	switch {
	case prev.IsZero():
		return true
	case r.interval > 0:
		return now.Sub(prev) >= r.interval
	default:
		return prev.Before(start)
	}
}

func (t Time) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t Time) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	r, err := parseTimeSource(raw)
	if err != nil {
		return nil, err
	}
	now := t.now().In(r.loc)
	version := func(at time.Time) map[string]string { return map[string]string{"time": at.Format(time.RFC3339Nano)} }
	var prev time.Time
	if from != nil {
		if prev, err = time.Parse(time.RFC3339Nano, from["time"]); err != nil {
			prev = time.Time{} // a version this type did not make: as if there were none
		}
	}
	if prev.IsZero() && r.initial {
		return []map[string]string{version(now)}, nil
	}
	var out []map[string]string
	if !prev.IsZero() {
		out = append(out, from)
	}
	if r.due(now, prev) {
		out = append(out, version(now))
	}
	return out, nil
}

func (Time) In(ctx context.Context, raw, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	b, _ := json.Marshal(map[string]any{"source": raw, "version": version})
	if err := os.WriteFile(filepath.Join(dest, "input"), b, 0o644); err != nil {
		return Response{}, err
	}
	if err := os.WriteFile(filepath.Join(dest, "timestamp"), []byte(version["time"]), 0o644); err != nil {
		return Response{}, err
	}
	return Response{Version: version}, nil
}

func (t Time) Out(ctx context.Context, raw, params json.RawMessage, dir string, log io.Writer) (Response, error) {
	r, err := parseTimeSource(raw)
	if err != nil {
		return Response{}, err
	}
	return Response{Version: map[string]string{"time": t.now().In(r.loc).Format(time.RFC3339Nano)}}, nil
}
