package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

const (
	key1       = "0123456789abcdef0123456789abcdef"
	key2       = "fedcba9876543210"
	restSecret = "static-password-given-with-fly-v"
)

func openWith(t *testing.T, url, newKey, oldKey string) *store.Store {
	t.Helper()
	keys, err := store.NewKeys(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenWith(context.Background(), url, slog.New(slog.NewTextHandler(io.Discard, nil)), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawColumns reads every sealed column as stored.
func rawColumns(t *testing.T, url string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var b strings.Builder
	for _, q := range []string{`SELECT config::TEXT FROM pipelines`, `SELECT config::TEXT FROM resources`, `SELECT config::TEXT FROM jobs`,
		`SELECT COALESCE(plan::TEXT, '') FROM jobs`, `SELECT COALESCE(plan::TEXT, '') FROM builds`} {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(texts, "\n") + "\n")
	}
	return b.String()
}

// With --encryption-key, configs and resource sources rest sealed and read
// back in the clear; the keys rotate with --old-encryption-key, and a hub
// without the key says what it needs instead of reading garbage.
func TestConfigsSealedAtRest(t *testing.T) {
	ctx := t.Context()
	url := storetest.URL(t)
	s := openWith(t, url, key1, "")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	source := `{"name":"repo","type":"git","source":{"uri":"https://example.com","password":"` + restSecret + `"},"check_every":"5m","version":{"ref":"abc"},"webhook_token":"hook"}`
	plan := json.RawMessage(`{"id":"1","get":{"name":"repo","source":{"password":"` + restSecret + `"}}}`)
	saved, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p",
		Config:    json.RawMessage(`{"resources":[` + source + `],"var_sources":[{"name":"v","type":"dummy","config":{"vars":{}}}],"jobs":[{"name":"j"}]}`),
		Resources: []store.Part{{Name: "repo", Type: "git", Config: json.RawMessage(source)}},
		Jobs:      []store.Part{{Name: "j", Config: json.RawMessage(`{"name":"j"}`), Job: &store.JobSchedule{Plan: plan}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	job, err := s.JobByName(ctx, saved.ID, "j")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateJobBuild(ctx, job.ID, "admin", true, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	raw := rawColumns(t, url)
	if strings.Contains(raw, restSecret) || strings.Count(raw, `"enc:v1:`) < 5 {
		t.Fatalf("configs rest in the clear:\n%s", raw)
	}

	check := func(s *store.Store) {
		t.Helper()
		cfg, _, err := s.PipelineConfig(ctx, team.ID, "p", "")
		if err != nil || !strings.Contains(string(cfg), restSecret) {
			t.Fatalf("pipeline config: %s, %v", cfg, err)
		}
		r, err := s.ResourceByName(ctx, saved.ID, "repo")
		if err != nil || !strings.Contains(string(r.Config), restSecret) {
			t.Fatalf("resource: %+v, %v", r, err)
		}
		if token, err := s.ResourceWebhookToken(ctx, r.ID); err != nil || token != "hook" {
			t.Fatalf("webhook token %q, %v", token, err)
		}
		got, err := s.Build(ctx, b.ID)
		if err != nil || !strings.Contains(string(got.Plan), restSecret) {
			t.Fatalf("build plan: %s, %v", got.Plan, err)
		}
		if trusted, vs, err := s.BuildVarContext(ctx, saved.ID, job.ID); err != nil || !trusted || !strings.Contains(string(vs), `"dummy"`) {
			t.Fatalf("var sources %s, %v", vs, err)
		}
	}
	check(s)
	var pinned, every string
	conn, _ := pgx.Connect(ctx, url)
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT pinned_in_config::TEXT, check_every FROM resources`).Scan(&pinned, &every); err != nil || pinned != `{"ref": "abc"}` || every != "5m" {
		t.Errorf("a sealed resource's pin %q and check_every %q (%v)", pinned, every, err)
	}

	// A hub without the key refuses to guess; a hub with another key, or
	// none, says so at start.
	if _, _, err := openWith(t, url, "", "").PipelineConfig(ctx, team.ID, "p", ""); !errors.Is(err, store.ErrSealed) {
		t.Errorf("no key: %v", err)
	}
	for _, k := range []string{key2, ""} {
		if err := openWith(t, url, k, "").CheckKeys(ctx); !errors.Is(err, store.ErrSealed) {
			t.Errorf("a hub with key %q started on configs sealed with another: %v", k, err)
		}
	}
	if err := s.CheckKeys(ctx); err != nil {
		t.Errorf("the sealing key: %v", err)
	}
	// Rotate to key2: everything is sealed again with it, and reads with it alone.
	rotating := openWith(t, url, key2, key1)
	n, err := rotating.Reseal(ctx)
	if err != nil || n < 5 {
		t.Fatalf("reseal rewrote %d documents: %v", n, err)
	}
	if n, err := rotating.Reseal(ctx); err != nil || n != 0 {
		t.Errorf("a second reseal rewrote %d: %v", n, err)
	}
	check(openWith(t, url, key2, ""))
	if _, _, err := openWith(t, url, key1, "").PipelineConfig(ctx, team.ID, "p", ""); !errors.Is(err, store.ErrSealed) {
		t.Errorf("the old key still opens the configs: %v", err)
	}
	// An old key alone takes the encryption off.
	if n, err := openWith(t, url, "", key2).Reseal(ctx); err != nil || n < 5 {
		t.Fatalf("decrypting reseal rewrote %d: %v", n, err)
	}
	if raw := rawColumns(t, url); strings.Contains(raw, "enc:v1:") || !strings.Contains(raw, restSecret) {
		t.Errorf("after decrypting:\n%s", raw)
	}
	check(openWith(t, url, "", ""))
}

func TestNewKeys(t *testing.T) {
	if _, err := store.NewKeys("short", ""); err == nil || !strings.Contains(err.Error(), "--encryption-key must be 16 or 32 bytes long") {
		t.Errorf("got %v", err)
	}
	if _, err := store.NewKeys("", "x"); err == nil || !strings.Contains(err.Error(), "--old-encryption-key") {
		t.Errorf("got %v", err)
	}
}
