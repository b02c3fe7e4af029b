package store_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/algorithm/scenario/onstore"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// Migration 0029 fills in the versions after the first in the output sets
// recorded before it, which kept only the first of each resource: after it,
// those sets hold what a build recorded now holds, in the same order.
func TestOutputSetMigrationFillsInLaterVersions(t *testing.T) {
	ctx := t.Context()
	st, conn := storetest.NewWithConn(t)
	scenarios, err := scenario.Load("../../algorithm/testdata/classes.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios {
		if _, err := onstore.Load(ctx, st, s, "p-"+strings.ReplaceAll(s.ID, "/", "-")); err != nil {
			t.Fatal(err)
		}
	}
	sets := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT build_id || ' ' || resource_id || ' ' || version_digest FROM successful_build_outputs
			ORDER BY build_id, resource_id, position`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	recorded := sets()
	// The form before the migration: the first version of each resource.
	if _, err := conn.Exec(ctx, `DELETE FROM successful_build_outputs o WHERE EXISTS (SELECT 1 FROM successful_build_outputs e
		WHERE e.build_id = o.build_id AND e.resource_id = o.resource_id AND e.position < o.position)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE successful_build_outputs SET position = 0`); err != nil {
		t.Fatal(err)
	}
	if old := sets(); len(old) == len(recorded) {
		t.Fatalf("the scenarios recorded no build with two versions of a resource: %v", recorded)
	}
	body, err := os.ReadFile("migrations/0029_output_set_positions.sql")
	if err != nil {
		t.Fatal(err)
	}
	fill := string(body)[strings.Index(string(body), "INSERT INTO"):]
	if _, err := conn.Exec(ctx, fill); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recorded, sets()); diff != "" {
		t.Errorf("output sets after the migration's fill (-recorded +filled):\n%s", diff)
	}
}
