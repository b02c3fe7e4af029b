package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

// ErrPinnedInConfig is returned when pinning through the API a resource whose
// config pins a version.
var ErrPinnedInConfig = errors.New("the resource is pinned in its pipeline config: change the config to unpin it")

// ResourceState is what the API shows of a resource beyond its config.
type ResourceState struct {
	LastChecked    *time.Time
	PinnedVersion  map[string]string // the pin in effect: the config's, else the API's
	PinnedInConfig bool
	PinComment     string
	CheckBuild     *Build // the latest check build (id, name, status and times), or nil
}

// ResourceStates reads the state of a pipeline's active resources by id.
func (s *Store) ResourceStates(ctx context.Context, pipelineID int64) (map[int64]ResourceState, error) {
	type row struct {
		id int64
		ResourceState
	}
	rows, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT r.id, r.last_checked, COALESCE(r.pinned_in_config, pv.version), r.pinned_in_config IS NOT NULL,
				r.pin_comment, cb.id, cb.name, cb.status, cb.start_time, cb.end_time
			FROM resources r LEFT JOIN resource_versions pv ON pv.id = r.pinned_version_id
			LEFT JOIN builds cb ON cb.id = (SELECT max(b.id) FROM builds b WHERE b.resource_id = r.id)
			WHERE r.pipeline_id = $1 AND r.active`, pipelineID)
	}, func(r pgx.CollectableRow) (row, error) {
		var x row
		var id *int64
		var name, status *string
		var b Build
		err := r.Scan(&x.id, &x.LastChecked, &x.PinnedVersion, &x.PinnedInConfig, &x.PinComment, &id, &name, &status, &b.StartTime, &b.EndTime)
		if id != nil {
			b.ID, b.Name, b.Status = *id, *name, api.BuildStatus(*status)
			x.CheckBuild = &b
		}
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read resource states: %w", err)
	}
	out := make(map[int64]ResourceState, len(rows))
	for _, r := range rows {
		out[r.id] = r.ResourceState
	}
	return out, nil
}

// resourceChange runs a change of a resource's pins or versions and asks for
// the jobs that get it to be scheduled.
func (s *Store) resourceChange(ctx context.Context, what string, resourceID int64, fn func(tx pgx.Tx) error) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return requestSchedule(ctx, tx, `SELECT job_id FROM job_inputs WHERE resource_id = $1`, resourceID)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// PinVersion pins a resource to one of its versions (ErrNotFound if the
// version is not the resource's, ErrPinnedInConfig if the config pins it).
func (s *Store) PinVersion(ctx context.Context, resourceID, versionID int64) error {
	return s.resourceChange(ctx, "pin version", resourceID, func(tx pgx.Tx) error {
		var inConfig bool
		err := tx.QueryRow(ctx, `SELECT r.pinned_in_config IS NOT NULL FROM resources r JOIN resource_versions v ON v.resource_id = r.id
			WHERE r.id = $1 AND v.id = $2`, resourceID, versionID).Scan(&inConfig)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("version %d: %w", versionID, ErrNotFound)
		case err != nil:
			return err
		case inConfig:
			return ErrPinnedInConfig
		}
		_, err = tx.Exec(ctx, `UPDATE resources SET pinned_version_id = $2 WHERE id = $1`, resourceID, versionID)
		return err
	})
}

// UnpinResource removes the API pin and its comment.
func (s *Store) UnpinResource(ctx context.Context, resourceID int64) error {
	return s.resourceChange(ctx, "unpin resource", resourceID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE resources SET pinned_version_id = NULL, pin_comment = '' WHERE id = $1`, resourceID)
		return err
	})
}

// SetPinComment sets the comment shown with a pin.
func (s *Store) SetPinComment(ctx context.Context, resourceID int64, comment string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE resources SET pin_comment = $2 WHERE id = $1`, resourceID, comment)
		return err
	})
	if err != nil {
		return fmt.Errorf("set pin comment: %w", err)
	}
	return nil
}

// SetVersionEnabled enables or disables a version of a resource (ErrNotFound
// if it is not the resource's).
func (s *Store) SetVersionEnabled(ctx context.Context, resourceID, versionID int64, enabled bool) error {
	return s.resourceChange(ctx, "enable or disable version", resourceID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE resource_versions SET disabled = $3 WHERE id = $2 AND resource_id = $1`, resourceID, versionID, !enabled)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("version %d: %w", versionID, ErrNotFound)
		}
		return err
	})
}

// VersionPage lists a resource's versions newest first by check order, one
// page: From and To are version ids whose check orders bound the page
// (inclusive), as in Concourse. filter keeps versions that contain it.
func (s *Store) VersionPage(ctx context.Context, resourceID int64, page Page, filter map[string]string) ([]Version, error) {
	if page.Limit <= 0 || page.Limit > 1000 {
		page.Limit = 100
	}
	var filterJSON *string
	if len(filter) > 0 {
		b, _ := json.Marshal(filter)
		text := string(b)
		filterJSON = &text
	}
	const cols = `id, version, metadata, check_order, disabled`
	const where = ` FROM resource_versions WHERE resource_id = $1 AND ($2::JSONB IS NULL OR version @> $2::JSONB)`
	var q string
	var bound int64
	switch {
	case page.From > 0:
		q = `SELECT * FROM (SELECT ` + cols + where + ` AND check_order >= (SELECT check_order FROM resource_versions WHERE id = $3)
			ORDER BY check_order ASC LIMIT $4) x ORDER BY check_order DESC`
		bound = page.From
	case page.To > 0:
		q = `SELECT ` + cols + where + ` AND check_order <= (SELECT check_order FROM resource_versions WHERE id = $3)
			ORDER BY check_order DESC LIMIT $4`
		bound = page.To
	default:
		q = `SELECT ` + cols + where + ` AND $3 = 0 ORDER BY check_order DESC LIMIT $4`
	}
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, q, resourceID, filterJSON, bound, page.Limit)
	}, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		err := r.Scan(&v.ID, &v.Version, &v.Metadata, &v.CheckOrder, &v.Disabled)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return out, nil
}

// ClearVersions deletes every version of a resource and returns how many
// there were. Builds keep naming the versions they used, by digest; an API
// pin goes with its version (a pin in the config stays: it names the
// version itself).
func (s *Store) ClearVersions(ctx context.Context, resourceID int64) (int64, error) {
	var n int64
	err := s.resourceChange(ctx, "clear versions", resourceID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM resource_versions WHERE resource_id = $1`, resourceID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE resources SET pinned_version_id = NULL, pin_comment = '' WHERE id = $1 AND pinned_version_id IS NOT NULL`, resourceID)
		return err
	})
	return n, err
}
