package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/algorithm"
)

// VersionsDB answers the algorithm's questions from SQL, each with one bounded
// query on an index; nothing loads a pipeline's history.
type VersionsDB struct{ s *Store }

var _ algorithm.VersionsDB = VersionsDB{}

// VersionsDB returns the store's implementation of algorithm.VersionsDB.
func (s *Store) VersionsDB() VersionsDB { return VersionsDB{s} }

// one scans a single value, reporting found=false for no row.
func one[T any](row pgx.Row) (T, bool, error) {
	var v T
	err := row.Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, false, nil
	}
	return v, err == nil, err
}

func (d VersionsDB) LatestVersion(ctx context.Context, resourceID int64) (algorithm.VersionID, bool, error) {
	return one[algorithm.VersionID](d.s.row(ctx, `SELECT id FROM resource_versions
		WHERE resource_id = $1 AND NOT disabled ORDER BY check_order DESC, id DESC LIMIT 1`, resourceID))
}

func (d VersionsDB) NextEveryVersion(ctx context.Context, jobID, resourceID int64) (algorithm.VersionID, bool, bool, error) {
	used, found, err := one[int64](d.s.row(ctx, `SELECT v.check_order FROM build_inputs i
		JOIN resource_versions v ON v.resource_id = i.resource_id AND v.digest = i.version_digest
		WHERE i.job_id = $1 AND i.resource_id = $2 ORDER BY v.check_order DESC LIMIT 1`, jobID, resourceID))
	if err != nil {
		return 0, false, false, err
	}
	if !found {
		v, found, err := d.LatestVersion(ctx, resourceID)
		return v, false, found, err
	}
	next, err := collect(ctx, func() (pgx.Rows, error) {
		return d.s.reads.Query(ctx, `SELECT id FROM resource_versions
			WHERE resource_id = $1 AND check_order > $2 AND NOT disabled ORDER BY check_order ASC, id ASC LIMIT 2`, resourceID, used)
	}, pgx.RowTo[algorithm.VersionID])
	if err != nil {
		return 0, false, false, err
	}
	if len(next) > 0 {
		return next[0], len(next) > 1, true, nil
	}
	v, found, err := one[algorithm.VersionID](d.s.row(ctx, `SELECT id FROM resource_versions
		WHERE resource_id = $1 AND check_order <= $2 AND NOT disabled ORDER BY check_order DESC, id DESC LIMIT 1`, resourceID, used))
	return v, false, found, err
}

func (d VersionsDB) EnabledVersion(ctx context.Context, resourceID int64, version map[string]string) (algorithm.VersionID, bool, error) {
	return one[algorithm.VersionID](d.s.row(ctx, `SELECT id FROM resource_versions
		WHERE resource_id = $1 AND digest = $2 AND NOT disabled`, resourceID, digest(version)))
}

// SucceededBuilds and UnusedBuilds read builds in build order. Without
// constraints they walk the job's builds on builds_job_order; with them they
// walk the output sets holding the first constrained version on
// successful_build_outputs_version and check the others by primary key. A
// page comes with its builds' output sets.
func (d VersionsDB) SucceededBuilds(ctx context.Context, jobID int64, c algorithm.Constraints, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	order, id := int64(1<<62), int64(1<<62)
	if from != nil {
		order, id = from.Order, int64(from.ID)
	}
	if len(c) == 0 {
		return d.pageWithOutputs(ctx, `SELECT id, COALESCE(rerun_of, id) AS ord FROM builds
			WHERE job_id = $1 AND status = 'succeeded' AND (COALESCE(rerun_of, id), id) < ($2, $3)
			ORDER BY COALESCE(rerun_of, id) DESC, id DESC LIMIT $4`, "DESC", jobID, order, id, limit)
	}
	first, restRes, restVer := splitConstraints(c)
	return d.pageWithOutputs(ctx, `SELECT o.build_id AS id, o.build_order AS ord FROM successful_build_outputs o
		JOIN resource_versions v ON v.id = $3 AND v.resource_id = o.resource_id AND v.digest = o.version_digest
		WHERE o.job_id = $1 AND o.resource_id = $2 AND (o.build_order, o.build_id) < ($4, $5)
		AND `+firstEnabled("o")+` AND `+otherConstraints+`
		ORDER BY o.build_order DESC, o.build_id DESC LIMIT $8`, "DESC", jobID, first, c[first], order, id, restRes, restVer, limit)
}

func (d VersionsDB) UnusedBuilds(ctx context.Context, jobID int64, c algorithm.Constraints, lastUsed algorithm.BuildCursor, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	order, id := lastUsed.Order, int64(1<<62) // strictly after the build order of the one used last
	if from != nil {
		order, id = from.Order, int64(from.ID)
	}
	if len(c) == 0 {
		return d.pageWithOutputs(ctx, `SELECT id, COALESCE(rerun_of, id) AS ord FROM builds
			WHERE job_id = $1 AND status = 'succeeded' AND COALESCE(rerun_of, id) > $2 AND (COALESCE(rerun_of, id), id) > ($3, $4)
			ORDER BY COALESCE(rerun_of, id) ASC, id ASC LIMIT $5`, "ASC", jobID, lastUsed.Order, order, id, limit)
	}
	first, restRes, restVer := splitConstraints(c)
	return d.pageWithOutputs(ctx, `SELECT o.build_id AS id, o.build_order AS ord FROM successful_build_outputs o
		JOIN resource_versions v ON v.id = $3 AND v.resource_id = o.resource_id AND v.digest = o.version_digest
		WHERE o.job_id = $1 AND o.resource_id = $2 AND o.build_order > $9 AND (o.build_order, o.build_id) > ($4, $5)
		AND `+firstEnabled("o")+` AND `+otherConstraints+`
		ORDER BY o.build_order ASC, o.build_id ASC LIMIT $8`, "ASC", jobID, first, c[first], order, id, restRes, restVer, limit, lastUsed.Order)
}

// pageWithOutputs runs a query for a page of builds (columns id and ord, in
// the given direction) and returns the builds with their output sets, in one
// round trip.
func (d VersionsDB) pageWithOutputs(ctx context.Context, page, dir string, args ...any) ([]algorithm.BuildCursor, error) {
	type row struct {
		c        algorithm.BuildCursor
		resource *int64
		version  *algorithm.VersionID
	}
	rows, err := collect(ctx, func() (pgx.Rows, error) {
		return d.s.reads.Query(ctx, `WITH page AS (`+page+`)
			SELECT p.id, p.ord, o.resource_id, v.id FROM page p
			LEFT JOIN (successful_build_outputs o JOIN resource_versions v
				ON v.resource_id = o.resource_id AND v.digest = o.version_digest AND NOT v.disabled)
				ON o.build_id = p.id
			ORDER BY p.ord `+dir+`, p.id `+dir+`, o.position`, args...)
	}, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.c.ID, &x.c.Order, &x.resource, &x.version)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	var out []algorithm.BuildCursor
	for _, x := range rows {
		if len(out) == 0 || out[len(out)-1].ID != x.c.ID {
			x.c.Outputs = map[int64]algorithm.VersionID{}
			out = append(out, x.c)
		}
		if x.resource == nil {
			continue // no enabled version in the output set
		}
		b := &out[len(out)-1]
		if _, ok := b.Outputs[*x.resource]; !ok {
			b.Outputs[*x.resource] = *x.version
		}
	}
	return out, nil
}

// firstEnabled holds when the row o of successful_build_outputs, whose
// version the query joined as enabled, is the first enabled version of its
// resource in its build's output set: that is the one the set holds.
func firstEnabled(o string) string {
	return `NOT EXISTS (SELECT 1 FROM successful_build_outputs e JOIN resource_versions ev
		ON ev.resource_id = e.resource_id AND ev.digest = e.version_digest AND NOT ev.disabled
		WHERE e.build_id = ` + o + `.build_id AND e.resource_id = ` + o + `.resource_id AND e.position < ` + o + `.position)`
}

// otherConstraints holds when the output set of o's build has every version
// in the arrays $6 (resources) and $7 (versions).
var otherConstraints = `NOT EXISTS (
	SELECT 1 FROM unnest($6::BIGINT[], $7::BIGINT[]) AS c (resource_id, version_id)
	WHERE NOT EXISTS (
		SELECT 1 FROM successful_build_outputs o2 JOIN resource_versions v2 ON v2.id = c.version_id AND NOT v2.disabled
		WHERE o2.build_id = o.build_id AND o2.resource_id = c.resource_id AND o2.version_digest = v2.digest
		AND ` + firstEnabled("o2") + `))`

// splitConstraints picks the constraint that drives the query (the lowest
// resource id, for a stable plan) and returns the others as arrays.
func splitConstraints(c algorithm.Constraints) (int64, []int64, []int64) {
	first := int64(-1)
	for res := range c {
		if first < 0 || res < first {
			first = res
		}
	}
	var res, vers []int64
	for r, v := range c {
		if r != first {
			res = append(res, r)
			vers = append(vers, int64(v))
		}
	}
	return first, res, vers
}

func (d VersionsDB) Outputs(ctx context.Context, b algorithm.BuildID) (map[int64]algorithm.VersionID, error) {
	page, err := d.pageWithOutputs(ctx, `SELECT $1::BIGINT AS id, 0::BIGINT AS ord`, "ASC", b)
	if err != nil {
		return nil, err
	}
	return page[0].Outputs, nil
}

func (d VersionsDB) LastUsedBuilds(ctx context.Context, jobID, resourceID int64) (map[int64]algorithm.BuildCursor, error) {
	latest, found, err := one[int64](d.s.row(ctx, `SELECT b.id FROM build_inputs i
		JOIN resource_versions v ON v.resource_id = i.resource_id AND v.digest = i.version_digest
		JOIN builds b ON b.id = i.build_id
		WHERE i.job_id = $1 AND i.resource_id = $2
		ORDER BY v.check_order DESC, COALESCE(b.rerun_of, b.id) DESC, b.id DESC LIMIT 1`, jobID, resourceID))
	out := map[int64]algorithm.BuildCursor{}
	if err != nil || !found {
		return out, err
	}
	type fed struct {
		job int64
		c   algorithm.BuildCursor
	}
	rows, err := collect(ctx, func() (pgx.Rows, error) {
		return d.s.reads.Query(ctx, `SELECT f.job_id, f.id, COALESCE(f.rerun_of, f.id) FROM build_pipes p
			JOIN builds f ON f.id = p.from_build_id WHERE p.to_build_id = $1 LIMIT 1000`, latest)
	}, func(r pgx.CollectableRow) (fed, error) {
		var x fed
		err := r.Scan(&x.job, &x.c.ID, &x.c.Order)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range rows {
		if cur, ok := out[x.job]; !ok || x.c.Order > cur.Order || (x.c.Order == cur.Order && x.c.ID > cur.ID) {
			out[x.job] = x.c
		}
	}
	return out, nil
}

func (d VersionsDB) UsedBefore(ctx context.Context, jobID int64, name string, resourceID int64, v algorithm.VersionID) (bool, error) {
	used, _, err := one[bool](d.s.row(ctx, `SELECT EXISTS (SELECT 1 FROM build_inputs i JOIN resource_versions v ON v.id = $4
		WHERE i.job_id = $1 AND i.name = $2 AND i.resource_id = $3 AND i.version_digest = v.digest)`, jobID, name, resourceID, v))
	return used, err
}

// VersionValue returns a version's content (for reports and the scenario runner).
func (d VersionsDB) VersionValue(ctx context.Context, v algorithm.VersionID) (map[string]string, error) {
	val, _, err := one[map[string]string](d.s.row(ctx, `SELECT version FROM resource_versions WHERE id = $1`, v))
	return val, err
}
