package resource

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The time resource's check over a fake clock: windows (also across
// midnight and in other zones), days, intervals, once per window, and
// initial_version, as upstream's time resource decides them.
func TestTimeCheck(t *testing.T) {
	at := func(s string) time.Time { // 2026-12-04 is a Friday
		v, err := time.Parse("2006-01-02 15:04 MST", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, source string
		now          string
		prev         string // "" no version yet
		want         int    // versions after prev: 0 or 1
	}{
		{"interval, first check", `{"interval": "1h"}`, "2026-12-04 10:00 UTC", "", 1},
		{"interval not passed", `{"interval": "1h"}`, "2026-12-04 10:00 UTC", "2026-12-04 09:30 UTC", 0},
		{"interval passed", `{"interval": "1h"}`, "2026-12-04 10:00 UTC", "2026-12-04 08:59 UTC", 1},
		{"interval exactly", `{"interval": "1h"}`, "2026-12-04 10:00 UTC", "2026-12-04 09:00 UTC", 1},
		{"nothing set: once a day, first", `{}`, "2026-12-04 10:00 UTC", "", 1},
		{"nothing set: once a day, same day", `{}`, "2026-12-04 10:00 UTC", "2026-12-04 00:05 UTC", 0},
		{"nothing set: once a day, next day", `{}`, "2026-12-04 10:00 UTC", "2026-12-03 23:59 UTC", 1},
		{"before the window", `{"start": "9:00 AM", "stop": "5:00 PM"}`, "2026-12-04 08:00 UTC", "", 0},
		{"after the window", `{"start": "9:00 AM", "stop": "5:00 PM"}`, "2026-12-04 17:00 UTC", "", 0},
		{"in the window, first", `{"start": "9:00 AM", "stop": "5:00 PM"}`, "2026-12-04 10:00 UTC", "", 1},
		{"in the window, once", `{"start": "9:00 AM", "stop": "5:00 PM"}`, "2026-12-04 16:00 UTC", "2026-12-04 09:30 UTC", 0},
		{"in the window, yesterday's", `{"start": "0900", "stop": "1700"}`, "2026-12-04 10:00 UTC", "2026-12-03 16:00 UTC", 1},
		{"window and interval", `{"start": "9AM", "stop": "5PM", "interval": "2h"}`, "2026-12-04 12:00 UTC", "2026-12-04 09:30 UTC", 1},
		{"window and interval, not yet", `{"start": "9 AM", "stop": "5 PM", "interval": "2h"}`, "2026-12-04 11:00 UTC", "2026-12-04 09:30 UTC", 0},
		{"across midnight, after it", `{"start": "22:00", "stop": "02:00"}`, "2026-12-04 01:00 UTC", "2026-12-03 21:00 UTC", 1},
		{"across midnight, once", `{"start": "22:00", "stop": "02:00"}`, "2026-12-04 01:00 UTC", "2026-12-03 23:00 UTC", 0},
		{"across midnight, outside", `{"start": "22:00", "stop": "02:00"}`, "2026-12-04 03:00 UTC", "", 0},
		{"across midnight, before it", `{"start": "22:00", "stop": "02:00"}`, "2026-12-04 23:00 UTC", "2026-12-04 01:00 UTC", 1},
		{"not on this day", `{"days": ["Saturday", "Sunday"]}`, "2026-12-04 10:00 UTC", "", 0},
		{"on this day", `{"days": ["friday"]}`, "2026-12-04 10:00 UTC", "", 1},
		{"location", `{"start": "9:00 AM", "stop": "10:00 AM", "location": "America/New_York"}`, "2026-12-04 14:30 UTC", "", 1},
		{"location, outside", `{"start": "9:00 AM", "stop": "10:00 AM", "location": "America/New_York"}`, "2026-12-04 09:30 UTC", "", 0},
		{"location decides the day", `{"days": ["Thursday"], "location": "America/New_York"}`, "2026-12-04 03:00 UTC", "", 1},
		{"zone in start and stop", `{"start": "9:00 AM -0500", "stop": "10:00 AM -0500"}`, "2026-12-04 14:30 UTC", "", 1},
		{"initial version outside the window", `{"start": "9:00 AM", "stop": "10:00 AM", "initial_version": true}`, "2026-12-04 20:00 UTC", "", 1},
		{"initial version, then the rules", `{"start": "9:00 AM", "stop": "10:00 AM", "initial_version": true}`, "2026-12-04 20:00 UTC", "2026-12-04 19:00 UTC", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			typ := Time{Now: func() time.Time { return now }}
			var from map[string]string
			if tt.prev != "" {
				from = map[string]string{"time": at(tt.prev).Format(time.RFC3339Nano)}
			}
			got, err := typ.Check(t.Context(), json.RawMessage(tt.source), from, nil)
			if err != nil {
				t.Fatal(err)
			}
			if from != nil {
				if len(got) == 0 || got[0]["time"] != from["time"] {
					t.Fatalf("the current version is not first: %v", got)
				}
				got = got[1:]
			}
			if len(got) != tt.want {
				t.Fatalf("got %v, want %d new version(s)", got, tt.want)
			}
			if tt.want == 1 {
				v, err := time.Parse(time.RFC3339Nano, got[0]["time"])
				if err != nil || !v.Equal(now) {
					t.Errorf("the new version is %v, want the time of the check %v", got[0], now)
				}
			}
		})
	}
}

func TestTimeSourceErrors(t *testing.T) {
	for source, want := range map[string]string{
		`{"start": "9:00 AM"}`:                "start and stop go together",
		`{"start": "25:00", "stop": "26:00"}`: `invalid start "25:00"`,
		`{"start": "9:00", "stop": "noon"}`:   `invalid stop "noon"`,
		`{"days": ["Funday"]}`:                `invalid day "Funday"`,
		`{"location": "Mars/Olympus_Mons"}`:   `invalid location "Mars/Olympus_Mons"`,
		`{"location": "../../etc/passwd"}`:    "invalid location",
		`{"interval": "0s"}`:                  `invalid interval "0s"`,
		`{"interval": "soon"}`:                `invalid interval "soon"`,
		`{"interval": 5}`:                     "invalid payload",
		`{"days": "Monday"}`:                  "invalid payload",
	} {
		_, err := Time{}.Check(t.Context(), json.RawMessage(source), nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("source %s: %v, want %q", source, err, want)
		}
	}
}

// get writes the version and its time; put makes a version of now, in the
// source's location; a version this type did not make counts as none.
func TestTimeInOut(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	typ := Time{Now: func() time.Time { return now }}
	dir := t.TempDir()
	v := map[string]string{"time": now.Format(time.RFC3339Nano)}
	if _, err := typ.In(t.Context(), json.RawMessage(`{"interval": "1h"}`), nil, v, dir, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "timestamp")); err != nil || string(b) != v["time"] {
		t.Errorf("timestamp: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "input")); err != nil || !strings.Contains(string(b), v["time"]) {
		t.Errorf("input: %q %v", b, err)
	}
	resp, err := typ.Out(t.Context(), json.RawMessage(`{"location": "Europe/Paris"}`), nil, dir, nil)
	if err != nil || resp.Version["time"] != "2026-12-04T16:00:00+01:00" {
		t.Errorf("put: %v %v", resp, err)
	}
	got, err := typ.Check(t.Context(), json.RawMessage(`{"interval": "1h"}`), map[string]string{"time": "yesterday"}, nil)
	if err != nil || len(got) != 1 || got[0]["time"] != v["time"] {
		t.Errorf("check after a foreign version: %v %v", got, err)
	}
}
