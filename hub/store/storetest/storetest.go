// Package storetest gives tests a migrated store of their own on the real
// PostgreSQL that hack/with-postgres.sh starts: one database per test, cloned from
// a template that is migrated once per test binary.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// EnvURL names the variable that holds the admin URL of the test server.
const EnvURL = "SWITCHYARD_TEST_DATABASE_URL"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL returns the test server's URL, failing the test when there is none:
// store tests never skip, they need the real server.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or `hack/with-postgres.sh go test ./...`", EnvURL)
	}
	return u
}

// Take takes a build to run as the engine does (its lease, fence and start,
// with the started event) and returns its fence.
func Take(t testing.TB, s *store.Store, id int64, started store.Event) int64 {
	t.Helper()
	taken, err := s.TakeBuilds(t.Context(), []int64{id}, "test", time.Minute, started)
	if err != nil {
		t.Fatal(err)
	}
	if len(taken) != 1 {
		t.Fatalf("build %d was not taken: it finished, or another holder runs it", id)
	}
	return taken[0].Fence
}

// New returns a store on a fresh, migrated database that is dropped when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	s, _ := newDatabase(t)
	return s
}

// NewWithConn is New with a plain connection to the same database, for
// tests that look under the store (its schema, rows it does not read back).
func NewWithConn(t testing.TB) (*store.Store, *pgx.Conn) {
	t.Helper()
	s, url := newDatabase(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, conn
}

// newDatabase clones the migrated template into a database of the test's
// own and opens a store on it; both go when the test ends.
func newDatabase(t testing.TB) (*store.Store, string) {
	t.Helper()
	admin := AdminURL(t)
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = makeTemplate(ctx, admin) })
	if templateErr != nil {
		t.Fatalf("make template database: %v", templateErr)
	}
	name := "test_" + randomSuffix()
	if err := adminExec(ctx, admin, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)); err != nil {
		t.Fatalf("clone template database: %v", err)
	}
	url := withDatabase(admin, name)
	s, err := store.Open(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if err := adminExec(context.Background(), admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return s, url
}

// URL returns a URL to a fresh, empty (unmigrated) database dropped at the end of the test.
func URL(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	name := "empty_" + randomSuffix()
	if err := adminExec(context.Background(), admin, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(context.Background(), admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(admin, name)
}

func makeTemplate(ctx context.Context, admin string) (string, error) {
	name := "template_" + randomSuffix()
	if err := adminExec(ctx, admin, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	s, err := store.Open(ctx, withDatabase(admin, name), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return "", err
	}
	defer s.Close() // a template must have no open connections when cloned
	return name, s.Migrate(ctx)
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(admin, db string) string {
	u, err := url.Parse(admin)
	if err != nil {
		panic(fmt.Sprintf("bad %s: %v", EnvURL, err))
	}
	u.Path = "/" + db
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
