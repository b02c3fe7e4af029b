package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DueCheck is a resource whose periodic check is due.
type DueCheck struct {
	Resource
	CheckEvery string // as written in the config; "" is the default
}

// DueChecks lists resources of unpaused pipelines whose next check is due
// (never checked, or next_check passed) and that have no check running,
// oldest due first, at most limit. Resources with check_every: never are not
// listed.
func (s *Store) DueChecks(ctx context.Context, limit int) ([]DueCheck, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT r.id, r.pipeline_id, r.name, r.type, r.config, r.check_every
			FROM resources r JOIN pipelines p ON p.id = r.pipeline_id
			WHERE r.active AND NOT p.paused AND NOT p.archived AND r.check_every <> 'never'
			AND (r.next_check IS NULL OR r.next_check <= now())
			AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.resource_id = r.id AND b.status IN ('pending', 'started'))
			ORDER BY r.next_check NULLS FIRST, r.id LIMIT $1`, limit)
	}, func(r pgx.CollectableRow) (DueCheck, error) {
		var d DueCheck
		err := r.Scan(&d.ID, &d.PipelineID, &d.Name, &d.Type, &d.Config, &d.CheckEvery)
		if err == nil {
			err = s.keys.openRaw(&d.Config)
		}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list due checks: %w", err)
	}
	return out, nil
}

// ResourceWebhookToken returns the webhook token a resource's config sets ("": none).
func (s *Store) ResourceWebhookToken(ctx context.Context, resourceID int64) (string, error) {
	var config json.RawMessage
	err := s.row(ctx, `SELECT config FROM resources WHERE id = $1`, resourceID).Scan(&config)
	if err == nil {
		err = s.keys.openRaw(&config)
	}
	var c struct {
		WebhookToken string `json:"webhook_token"`
	}
	if err == nil {
		err = json.Unmarshal(config, &c)
	}
	if err != nil {
		return "", fmt.Errorf("read webhook token of resource %d: %w", resourceID, err)
	}
	return c.WebhookToken, nil
}
