package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TeamQuota bounds what a team's builds hold across the fleet at once: open
// (pending or running) steps, and the CPU and memory they ask for. Zero is
// no bound.
type TeamQuota struct {
	Steps  int     `json:"max_steps,omitempty"`
	CPU    float64 `json:"max_cpu,omitempty"`
	Memory int64   `json:"max_memory,omitempty"`
}

// None says the quota bounds nothing.
func (q TeamQuota) None() bool { return q == TeamQuota{} }

// SetTeamQuota stores a team's fleet quota (the zero quota removes it). It
// moves the policies' generation, so that every hub's placer reads the
// quotas again at its next placement, as it does the policies.
func (s *Store) SetTeamQuota(ctx context.Context, teamID int64, q TeamQuota) error {
	raw, _ := json.Marshal(q)
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE teams SET fleet_quota = $2 WHERE id = $1`, teamID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		if err != nil {
			return err
		}
		return bumpPolicies(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("set the fleet quota of team %d: %w", teamID, err)
	}
	return nil
}

// TeamQuotaOf is a team's fleet quota.
func (s *Store) TeamQuotaOf(ctx context.Context, teamID int64) (TeamQuota, error) {
	var raw []byte
	if err := s.row(ctx, `SELECT fleet_quota FROM teams WHERE id = $1`, teamID).Scan(&raw); err != nil {
		return TeamQuota{}, fmt.Errorf("the fleet quota of team %d: %w", teamID, err)
	}
	var q TeamQuota
	err := json.Unmarshal(raw, &q)
	return q, err
}

// TeamQuotas are the fleet quotas of the teams that have one.
func (s *Store) TeamQuotas(ctx context.Context) (map[int64]TeamQuota, error) {
	type quota struct {
		id  int64
		raw []byte
	}
	quotas, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, fleet_quota FROM teams WHERE fleet_quota <> '{}'::JSONB LIMIT 10000`)
	}, func(r pgx.CollectableRow) (quota, error) {
		var q quota
		err := r.Scan(&q.id, &q.raw)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the teams' fleet quotas: %w", err)
	}
	out := make(map[int64]TeamQuota, len(quotas))
	for _, q := range quotas {
		var tq TeamQuota
		if err := json.Unmarshal(q.raw, &tq); err != nil {
			return nil, fmt.Errorf("the fleet quota of team %d: %w", q.id, err)
		}
		out[q.id] = tq
	}
	return out, nil
}

// TeamOpenLoad is what a team's open (pending or running) steps on spokes
// hold now.
func (s *Store) TeamOpenLoad(ctx context.Context, teamID int64) (Load, error) {
	var l Load
	err := s.row(ctx, `SELECT count(*), COALESCE(sum(st.cpu), 0), COALESCE(sum(st.memory), 0)::BIGINT
		FROM build_steps st JOIN builds b ON b.id = st.build_id
		WHERE st.spoke_id IS NOT NULL AND st.state IN ('pending', 'running') AND b.team_id = $1`, teamID).Scan(&l.Steps, &l.CPU, &l.Memory)
	if err != nil {
		return Load{}, fmt.Errorf("the open steps of team %d: %w", teamID, err)
	}
	return l, nil
}
