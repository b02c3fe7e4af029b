package store

import (
	"context"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5"
)

// Cache epochs: fly clear-task-cache and clear-resource-cache move a cache's
// epoch on; spokes key their caches by it (see the migration).

// ClearTaskCache moves on the epoch of a job's task caches for a step: at
// cachePath only, or at every path when it is "".
func (s *Store) ClearTaskCache(ctx context.Context, jobID int64, step, cachePath string) error {
	if cachePath != "" {
		cachePath = path.Clean(cachePath)
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO task_cache_epochs (job_id, step, path, epoch) VALUES ($1, $2, $3, 1)
			ON CONFLICT (job_id, step, path) DO UPDATE SET epoch = task_cache_epochs.epoch + 1`, jobID, step, cachePath)
		return err
	})
	if err != nil {
		return fmt.Errorf("clear task cache of step %s: %w", step, err)
	}
	return nil
}

// TaskCacheEpochs are a job's task cache epochs: step -> path ("" for every
// path) -> epoch.
func (s *Store) TaskCacheEpochs(ctx context.Context, jobID int64) (map[string]map[string]int64, error) {
	rows, err := s.reads.Query(ctx, `SELECT step, path, epoch FROM task_cache_epochs WHERE job_id = $1`, jobID)
	if err != nil {
		return nil, fmt.Errorf("task cache epochs: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var step, p string
		var epoch int64
		if err := rows.Scan(&step, &p, &epoch); err != nil {
			return nil, err
		}
		if out[step] == nil {
			out[step] = map[string]int64{}
		}
		out[step][p] = epoch
	}
	return out, rows.Err()
}

// ClearResourceCache moves on the epoch of a resource's caches (of one
// version, or of all when version is nil) and returns how many it cleared:
// the versions of it that builds fetched.
func (s *Store) ClearResourceCache(ctx context.Context, resourceID int64, version map[string]string) (int64, error) {
	d := ""
	if version != nil {
		d = digest(version)
	}
	var n int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO resource_cache_epochs (resource_id, version_digest, epoch) VALUES ($1, $2, 1)
			ON CONFLICT (resource_id, version_digest) DO UPDATE SET epoch = resource_cache_epochs.epoch + 1`, resourceID, d); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(DISTINCT version_digest) FROM build_inputs WHERE resource_id = $1 AND ($2 = '' OR version_digest = $2)`,
			resourceID, d).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("clear resource cache: %w", err)
	}
	return n, nil
}

// ResourceCacheEpoch is the epoch of the cache of a version of a pipeline's
// resource.
func (s *Store) ResourceCacheEpoch(ctx context.Context, pipelineID int64, resource string, version map[string]string) (int64, error) {
	var epoch int64
	err := s.row(ctx, `SELECT COALESCE(sum(e.epoch), 0) FROM resource_cache_epochs e JOIN resources r ON r.id = e.resource_id
		WHERE r.pipeline_id = $1 AND r.name = $2 AND r.active AND e.version_digest IN ('', $3)`,
		pipelineID, resource, digest(version)).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("resource cache epoch: %w", err)
	}
	return epoch, nil
}
