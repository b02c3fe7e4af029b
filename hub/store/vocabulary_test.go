package store_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// The statuses and states the Go code names are exactly those the
// database's CHECK constraints allow, after every migration.
func TestVocabularyMatchesTheSchema(t *testing.T) {
	ctx := t.Context()
	_, conn := storetest.NewWithConn(t)
	allowed := func(table, column string) []string {
		var def string
		err := conn.QueryRow(ctx, `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
			WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%' || $2 || '%'`, table, "("+column).Scan(&def)
		if err != nil {
			t.Fatalf("the CHECK constraint on %s.%s: %v", table, column, err)
		}
		var out []string
		for _, m := range regexp.MustCompile(`'([a-z_-]+)'`).FindAllStringSubmatch(def, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	same := func(what string, db []string, code []string) {
		slices.Sort(code)
		if !slices.Equal(db, code) {
			t.Errorf("%s: the database allows %v, the code names %v", what, db, code)
		}
	}
	var builds, steps []string
	for _, s := range api.BuildStatuses {
		builds = append(builds, string(s))
	}
	for _, s := range store.StepStates {
		steps = append(steps, string(s))
	}
	same("build statuses", allowed("builds", "status"), builds)
	same("step states", allowed("build_steps", "state"), steps)
}
