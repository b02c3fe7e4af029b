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

// TeamLoad is a team's quota and what its open steps hold now.
type TeamLoad struct {
	Quota TeamQuota
	Load  Load
}

// SetTeamQuota stores a team's fleet quota (the zero quota removes it).
func (s *Store) SetTeamQuota(ctx context.Context, teamID int64, q TeamQuota) error {
	raw, _ := json.Marshal(q)
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE teams SET fleet_quota = $2 WHERE id = $1`, teamID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
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

// TeamLoads are the teams that have a fleet quota, with what their open
// steps on spokes hold now. When no team has one it reads nothing more.
func (s *Store) TeamLoads(ctx context.Context) (map[int64]TeamLoad, error) {
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
	out := make(map[int64]TeamLoad, len(quotas))
	ids := make([]int64, 0, len(quotas))
	for _, q := range quotas {
		var tl TeamLoad
		if err := json.Unmarshal(q.raw, &tl.Quota); err != nil {
			return nil, fmt.Errorf("the fleet quota of team %d: %w", q.id, err)
		}
		out[q.id] = tl
		ids = append(ids, q.id)
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.reads.Query(ctx, `SELECT b.team_id, count(*), COALESCE(sum(st.cpu), 0), COALESCE(sum(st.memory), 0)::BIGINT
		FROM build_steps st JOIN builds b ON b.id = st.build_id
		WHERE st.spoke_id IS NOT NULL AND st.state IN ('pending', 'running') AND b.team_id = ANY($1) GROUP BY b.team_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read the teams' loads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var l Load
		if err := rows.Scan(&id, &l.Steps, &l.CPU, &l.Memory); err != nil {
			return nil, err
		}
		tl := out[id]
		tl.Load = l
		out[id] = tl
	}
	return out, rows.Err()
}
