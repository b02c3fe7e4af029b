package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Event is one build event: Concourse's event type and version, and its payload.
type Event struct {
	Seq     int64
	Type    string
	Version string
	Payload json.RawMessage
}

// appendEvent adds an event at the end of a build's log within tx, in one
// statement. The sequence number comes from the build's own counter, so only
// events of the same build contend.
func appendEvent(ctx context.Context, tx pgx.Tx, buildID int64, e Event) error {
	_, err := tx.Exec(ctx, `
		WITH next AS (UPDATE builds SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq)
		INSERT INTO build_events (build_id, seq, event_type, version, payload)
		SELECT $1, event_seq, $2, $3, $4 FROM next`,
		buildID, e.Type, e.Version, string(e.Payload))
	return err
}

// AppendEvent adds an event at the end of a build's log.
func (s *Store) AppendEvent(ctx context.Context, buildID int64, e Event) error {
	if err := s.Tx(ctx, func(tx pgx.Tx) error { return appendEvent(ctx, tx, buildID, e) }); err != nil {
		return fmt.Errorf("append event to build %d: %w", buildID, err)
	}
	return nil
}

// Events returns up to limit events of a build after sequence number after.
func (s *Store) Events(ctx context.Context, buildID, after int64, limit int) ([]Event, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT seq, event_type, version, payload FROM build_events
		WHERE build_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, buildID, after, limit)
	}, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.Seq, &e.Type, &e.Version, &e.Payload)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read events of build %d: %w", buildID, err)
	}
	return out, nil
}
